"""The ResNet study's T/alpha ablation (seeds/000 Tables 3.1-3.3) on the
comparison study's CNN pair under that study's recipe, one seed per sweep:
the baseline student (alpha = 1: the KD loss is then exactly cross-entropy)
and KD at T in {1, 2, 4, 8, 16} (alpha = 0.3) and alpha in {0.1, 0.3, 0.5,
0.7, 0.9} (T = 4), the shared point (T=4, alpha=0.3) once: 10 students
trained as one program that runs the teacher once per batch for all of them.

  for s in 0 1 2; do
    python -m kdjax.sweep --sweep=experiments/sweeps/cnn_ablation.py \\
        --workdir=runs/cifar10_cnn_ablation/s$s --set=seed=$s \\
        --set=teacher.workdir=runs/cifar10_cnn_ablation/teacher_s$s \\
        --set=dataset.data_dir=../shared/data/cifar10-jpeg
  done
"""

from kdjax import sweep


def get_sweep():
  return {'config': 'configs/cifar10_cnn_ablation/kd.py', 'vmap': True,
          'points': sweep.one_at_a_time(
              {'distill.temperature': 4.0, 'distill.alpha': 0.3},
              {'distill.temperature': [1.0, 2.0, 4.0, 8.0, 16.0],
               'distill.alpha': [0.1, 0.3, 0.5, 0.7, 0.9]},
              first=[{'distill.temperature': 4.0, 'distill.alpha': 1.0}])}
