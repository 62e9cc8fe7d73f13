"""ResNet-34 teacher for CIFAR-10 (21,282,122 params), 100 epochs.

KD report (seeds/000) Table 3.1, row "Teacher (ResNet-34)". Run (GPU):
  python -m kdjax.main --config=configs/cifar10_resnet/teacher.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --workdir=runs/cifar10_resnet/teacher
Initialisation: torchvision's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_resnet()
  config.model = config.teacher.model
  config.train.epochs = 100
  return config
