"""Temperature ablation of MNIST vanilla KD (the comparison study's 800-800
student, alpha = 0.1): T in {1, 2, 4, 8, 16} x 3 seeds = 15 students, trained
as ONE vmapped program ('vmap': True); each point still gets its own run
directory. Runs on a CPU (results: experiments/results/mnist_temperature/;
experiments/run_mnist_temperature.sh trains the teacher first).

  python -m kdjax.sweep --sweep=experiments/sweeps/mnist_temperature.py \
      --workdir=runs/sweeps/mnist_temperature \
      --set=teacher.workdir=runs/mnist_temperature/teacher \
      --set=dataset.data_dir=../shared/data/mnist
"""


def get_sweep():
  return {'config': 'configs/mnist/kd.py',
          'grid': {'distill.temperature': [1.0, 2.0, 4.0, 8.0, 16.0],
                   'seed': [0, 1, 2]},
          'vmap': True}
