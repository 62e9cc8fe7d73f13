"""The one-command demo: teacher -> baseline student -> KD student, offline.

Runs on scikit-learn's bundled 8x8 digits (no download) in under a minute on
two CPU cores and prints the results table:

  python -m kdjax.demo --workdir=runs/demo

It shows the pipeline working; on 360 test digits, differences of a few
points between the students are within seed-to-seed noise.
"""

import os
import time

from absl import flags
from absl import logging

from kdjax import analysis
from kdjax import cli
from kdjax import config as config_lib
from kdjax import errors
from kdjax import train

FLAGS = flags.FLAGS

ROLES = ('teacher', 'student', 'kd')


def get_config(role: str = 'kd', workdir: str = 'runs/demo'):
  """Config of one demo run; `role` is 'teacher', 'student' or 'kd'."""
  if role not in ROLES:
    raise errors.ConfigError(f'demo role {role!r} is unknown; expected one of {ROLES}')
  config = config_lib.get_base_config()
  config.dataset.name = 'digits'
  config.dataset.translate = 1
  config.train.epochs = 60
  config.train.batch_size = 64
  config.optimizer.learning_rate = 3e-3
  config.train.eval_batch_size = 120
  config.teacher.model = config_lib.mlp((512, 512), dropout=0.2)
  config.model = config_lib.mlp((16,))
  if role == 'teacher':
    config.model = config.teacher.model
  if role == 'kd':
    config.method = 'kd'
    config.distill.temperature = 4.0
    config.distill.alpha = 0.3
    config.teacher.workdir = os.path.join(workdir, 'teacher')
  return config


def main(argv):
  del argv
  if not FLAGS.verbose:  # one line per run instead of 180 epoch lines
    logging.set_verbosity(logging.WARNING)
  runs = [os.path.join(FLAGS.workdir, role) for role in ROLES]
  for role, workdir in zip(ROLES, runs):
    config = get_config(role, FLAGS.workdir)
    print(f'{role}: {config.train.epochs} epochs on the 8x8 digits ...', flush=True)
    start = time.perf_counter()
    metrics = train.train_and_evaluate(config, workdir)
    print(f'  test accuracy {metrics["test"]["accuracy"]:.2f}% in '
          f'{time.perf_counter() - start:.0f} s', flush=True)
  print('\n' + analysis.results_table(runs))
  print(f"""
The runs are in {FLAGS.workdir}/{{{','.join(ROLES)}}}/: config.json, metrics.json,
predictions/test.npz, checkpoints/ and tensorboard/. Next:
  python -m kdjax.analysis mcnemar --a={runs[1]} --b={runs[2]}
  tensorboard --logdir={FLAGS.workdir}
  bash experiments/run_study.sh mnist 0    # the MNIST study, on real MNIST""")


if __name__ == '__main__':
  # Defined here, not at import: configs/demo.py imports this module into
  # `kdjax.main`, which has its own --workdir.
  flags.DEFINE_string('workdir', 'runs/demo', 'Parent directory of the three runs.')
  cli.run(main)
