"""Command line: a PyTorch checkpoint -> a kdjax teacher workdir, once.

  python -m kdjax.convert --config=configs/cifar10_cnn/teacher.py \\
      --checkpoint=teacher.pth --workdir=runs/cifar10/torch_teacher
  python -m kdjax.main --config=configs/cifar10_cnn/kd.py --workdir=runs/cifar10/kd \\
      --config.teacher.workdir=runs/cifar10/torch_teacher

The config names the architecture (`model`) and the test set it is scored
on (`dataset`); `--layout` the checkpoint's key layout (default: the
model's first, `kdjax.interop.layouts`). The state_dict may be a `.pt`/
`.pth`/`.bin` file of `torch.save` (needs torch; wrappers such as
{'model': ...} and the 'module.' prefix are opened) or a `.safetensors`
file. Every tensor is mapped by name; a missing, unexpected, mis-shaped or
non-finite tensor is refused in one line before anything is written. The
workdir gets what a finished kdjax run leaves: checkpoints/0 (the variables,
no optimizer state), config.json, predictions/test.npz and a metrics.json
with the test accuracy it scores here and `imported` (the file, its
SHA-256 and layout); a student's `teacher.workdir` then reads it as any
teacher. An existing workdir is never written into.
"""

from absl import flags
from ml_collections import config_flags

from kdjax import cli
from kdjax import errors
from kdjax.interop import convert as convert_lib

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, "The teacher's config file (model and dataset), e.g. "
    'configs/cifar10_cnn/teacher.py.', lock_config=True)
flags.DEFINE_string('checkpoint', None, 'PyTorch state_dict: .pt, .pth, .bin or .safetensors.')
flags.DEFINE_string('layout', '', "Key layout of the checkpoint (e.g. 'torchvision', "
                    "'cifar'); default: the model's first.")
flags.DEFINE_string('workdir', None, 'The teacher workdir to create (must not exist, or be empty).')


def main(argv):
  del argv
  config = cli.loaded_config()
  for name, value in (('config', config), ('checkpoint', FLAGS.checkpoint),
                      ('workdir', FLAGS.workdir)):
    if not value:
      raise errors.ConfigError(f'--{name} is required; see python -m kdjax.convert --help')
  metrics = convert_lib.import_checkpoint(config, FLAGS.checkpoint, FLAGS.layout, FLAGS.workdir)
  print(f'{FLAGS.workdir}: {metrics["model"]} from {FLAGS.checkpoint} '
        f'({metrics["imported"]["layout"]} layout, {metrics["params"]:,} params): '
        f'test accuracy {metrics["test"]["accuracy"]:.2f}% on {metrics["data_source"]}')


if __name__ == '__main__':
  cli.run(main)
