"""MobileNetV2 distilled from ResNet-34 at T=4, alpha=0.3, 200 epochs.

KD report (seeds/000) Table 3.1, row "Student + KD (T=4, α=0.3)". Run (GPU)
after the teacher:
  python -m kdjax.main --config=configs/cifar10_resnet/kd_t4_a03.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_resnet/teacher \
      --workdir=runs/cifar10_resnet/kd_t4_a03
Initialisation: torchvision's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_resnet()
  config.method = 'kd'
  config.distill.update(temperature=4.0, alpha=0.3)
  return config
