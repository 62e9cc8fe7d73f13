"""Alpha ablation of the KD report (seeds/000 Table 3.3): alpha in
{0.1,0.3,0.5,0.7,0.9}, T = 4, MobileNetV2 <- ResNet-34 on CIFAR-10, 3 seeds.

  python -m kdjax.sweep --sweep=experiments/sweeps/alpha.py \
      --workdir=runs/sweeps/alpha \
      --set=teacher.workdir=runs/cifar10_resnet/teacher \
      --set=dataset.data_dir=../shared/data/cifar10-jpeg [--mode=slurm > a.sbatch]
"""


def get_sweep():
  return {'config': 'configs/cifar10_resnet/kd_t4_a03.py',
          'grid': {'distill.alpha': [0.1, 0.3, 0.5, 0.7, 0.9], 'seed': [0, 1, 2]},
          'set': {'distill.temperature': 4.0}}
