"""The CIFAR-10 CNN pair's method benchmark as ONE program per seed: the
baseline student, vanilla KD, decoupled KD, DIST and attention transfer with
the settings of their configs (configs/cifar10_cnn/{student,kd,dkd,dist,at}.py),
sharing the teacher's forward pass of each batch (kdjax/grid.py). Each point
still gets its own run directory.

  python -m kdjax.sweep --sweep=experiments/sweeps/cifar10_cnn_methods.py \
      --workdir=runs/sweeps/cifar10_cnn_methods \
      --set=teacher.workdir=runs/cifar10_cnn/teacher \
      --set=dataset.data_dir=../shared/data/cifar10-jpeg
"""


def get_sweep():
  return {'config': 'configs/cifar10_cnn/student.py',
          'points': [
              {'name': 'none', 'method': 'none'},
              {'name': 'kd', 'method': 'kd', 'distill.temperature': 4.0, 'distill.alpha': 0.1},
              {'name': 'dkd', 'method': 'dkd', 'dkd.alpha': 1.0, 'dkd.beta': 8.0, 'dkd.temperature': 4.0,
               'dkd.warmup_epochs': 2.0},
              {'name': 'dist', 'method': 'dist', 'dist.beta': 1.0, 'dist.gamma': 1.0,
               'dist.temperature': 1.0},
              {'name': 'at', 'method': 'at', 'at.weight': 1000.0, 'at.p': 2.0,
               'at.pairs': ('block_0:block_0', 'block_1:block_1')},
          ],
          'grid': {'seed': [0]},
          'vmap': True}
