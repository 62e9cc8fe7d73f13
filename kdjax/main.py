"""Command line: train or re-evaluate one run.

  python -m kdjax.main --config=configs/mnist/teacher.py --workdir=runs/mnist/teacher
  python -m kdjax.main --config=configs/mnist/kd.py --workdir=runs/mnist/kd \\
      --config.teacher.workdir=runs/mnist/teacher --config.distill.temperature=4
  python -m kdjax.main --mode=eval --workdir=runs/mnist/teacher

Every config key can be overridden as --config.KEY=VALUE. To see every key
with its default (or resolved) value and what it means, add --print_config:
  python -m kdjax.main --config=configs/mnist/kd.py --print_config
"""

import os

from absl import flags
from ml_collections import config_flags

from kdjax import cli
from kdjax import config as config_lib
from kdjax import errors
from kdjax import outputs
from kdjax import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file, e.g. configs/mnist/kd.py.',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory of the run (created/resumed).')
flags.DEFINE_enum('mode', 'train', ['train', 'eval'],
                  "'train' (resumes), or 'eval': rewrite metrics.json and "
                  "predictions from the workdir's latest checkpoint.")
flags.DEFINE_bool('print_config', False,
                  'Print the resolved config, every key with its value and '
                  'meaning, and exit.')


def _config():
  config = cli.loaded_config()
  if config is not None:
    return config
  path = os.path.join(FLAGS.workdir, 'config.json')
  if FLAGS.mode == 'eval' and os.path.exists(path):
    return config_lib.from_json(outputs.read_json(path))
  raise errors.ConfigError(
      f'no --config given and no {path}; expected --config=configs/....py')


def main(argv):
  del argv
  if FLAGS.print_config:
    print(config_lib.describe(_config() if FLAGS.config is not None
                              else config_lib.get_base_config()))
    return
  if not FLAGS.workdir:
    raise errors.ConfigError('--workdir is required: the directory of the run')
  if FLAGS.mode == 'train':
    train.train_and_evaluate(_config(), FLAGS.workdir)
  else:
    train.evaluate_checkpoint(_config(), FLAGS.workdir)


if __name__ == '__main__':
  cli.run(main)
