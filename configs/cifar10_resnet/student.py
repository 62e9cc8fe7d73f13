"""MobileNetV2 student baseline for CIFAR-10 (2,236,682 params), 200 epochs.

KD report (seeds/000) Table 3.1, row "Student Baseline". Run (GPU):
  python -m kdjax.main --config=configs/cifar10_resnet/student.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --workdir=runs/cifar10_resnet/student
Initialisation: torchvision's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  return config_lib.cifar10_resnet()
