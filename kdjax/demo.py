"""The one-command demo: teacher -> baseline student -> KD student, offline.

Runs on scikit-learn's bundled 8x8 digits (no download) in under a minute on
two CPU cores and prints the results table:

  python -m kdjax.demo --workdir=runs/demo

It shows the pipeline working; on 360 test digits, differences of a few
points between the students are within seed-to-seed noise.
"""

import os

from absl import flags

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
  for role in ROLES:
    train.train_and_evaluate(get_config(role, FLAGS.workdir),
                             os.path.join(FLAGS.workdir, role))
  runs = [os.path.join(FLAGS.workdir, role) for role in ROLES]
  print(analysis.results_table(runs))


if __name__ == '__main__':
  # Defined here, not at import: configs/demo.py imports this module into
  # `kdjax.main`, which has its own --workdir.
  flags.DEFINE_string('workdir', 'runs/demo', 'Parent directory of the three runs.')
  cli.run(main)
