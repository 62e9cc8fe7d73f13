"""A CIFAR-100 benchmark pair distilled (default Hinton KD, T = 4, 0.1 CE + 0.9 KD).

get_config's argument is 'TEACHER-STUDENT' (kdjax.models.benchmark.PAIRS;
default resnet32x4-resnet8x4). Any other method with its keys, e.g.
--config.method=dkd. Run (GPU; 240 epochs), after the teacher's workdir
exists (configs/cifar100/teacher.py):
  python -m kdjax.main --config=configs/cifar100/kd.py:resnet32x4-resnet8x4 \
      --config.dataset.data_dir=DIR_WITH_cifar-100-python.tar.gz \
      --config.teacher.workdir=runs/cifar100/resnet32x4 \
      --workdir=runs/cifar100/resnet32x4-resnet8x4/kd
Initialisation: the reference code's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib
from kdjax import errors


def get_config(pair='resnet32x4-resnet8x4'):
  teacher, dash, student = pair.partition('-')
  if not (dash and teacher and student):
    raise errors.ConfigError(f'the pair {pair!r} is not TEACHER-STUDENT; expected e.g. '
                             'resnet32x4-resnet8x4 (kdjax.models.benchmark.PAIRS)')
  config = config_lib.cifar100_benchmark(teacher=teacher, student=student)
  config.method = 'kd'
  return config
