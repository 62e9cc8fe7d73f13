"""Temperature ablation of the KD report (seeds/000 Table 3.2): T in {1,2,4,8,16},
alpha = 0.3, MobileNetV2 <- ResNet-34 on CIFAR-10, 3 seeds (15 runs).

  python -m kdjax.sweep --sweep=experiments/sweeps/temperature.py \
      --workdir=runs/sweeps/temperature \
      --set=teacher.workdir=runs/cifar10_resnet/teacher \
      --set=dataset.data_dir=../shared/data/cifar10-jpeg [--mode=slurm > t.sbatch]
"""


def get_sweep():
  return {'config': 'configs/cifar10_resnet/kd_t4_a03.py',
          'grid': {'distill.temperature': [1.0, 2.0, 4.0, 8.0, 16.0],
                   'seed': [0, 1, 2]},
          'set': {'distill.alpha': 0.3}}
