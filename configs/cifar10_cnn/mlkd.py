"""CIFAR-10 CNN multi-level logit distillation (Jin et al., CVPR 2023), its weak
view: the 32/64 student with the reference's temperatures (4, 3, 5, 2, 6), CE
weight 0.1, KD weight 0.9.

A method beyond the comparison study, next to Table 2 (kdjax/methods/mlkd.py;
docs/methods.md says what it follows). Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/mlkd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/mlkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'mlkd'
  config.mlkd.update(ce_weight=0.1, kd_weight=0.9, temperatures=(4.0, 3.0, 5.0, 2.0, 6.0))
  return config
