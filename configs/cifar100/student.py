"""A CIFAR-100 benchmark student trained alone (cross-entropy), the baseline row.

get_config's argument names the model (default resnet8x4). Run (GPU; 240 epochs):
  python -m kdjax.main --config=configs/cifar100/student.py:resnet8x4 \
      --config.dataset.data_dir=DIR_WITH_cifar-100-python.tar.gz \
      --workdir=runs/cifar100/resnet8x4
Initialisation: the reference code's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config(name='resnet8x4'):
  config = config_lib.cifar100_benchmark(teacher=name, student=name)
  config.method = 'none'
  return config
