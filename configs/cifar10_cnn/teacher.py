"""CIFAR-10 CNN teacher: convs 64/128/256 + FC 1024 (dropout 0.3), 4,576,394 params.

Comparison study (seeds/004) Table 2, row "Teacher". Run:
  python -m kdjax.main --config=configs/cifar10_cnn/teacher.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --workdir=runs/cifar10_cnn/teacher
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config.teacher.model
  return config
