"""CIFAR-10 CNN vanilla KD: the 32/64 student at T=4, alpha=0.1.

Comparison study (seeds/004) Table 2, row "Vanilla KD". Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/kd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/kd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'kd'
  config.distill.update(temperature=4.0, alpha=0.1)
  return config
