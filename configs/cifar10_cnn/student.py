"""CIFAR-10 CNN student baseline: convs 32/64 + FC 256, 1,070,794 params.

Comparison study (seeds/004) Table 2, row "Student Normal". Run:
  python -m kdjax.main --config=configs/cifar10_cnn/student.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --workdir=runs/cifar10_cnn/student
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  return config
