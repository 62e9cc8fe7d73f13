"""CIFAR-10 CNN multi-level logit distillation with logit standardisation (Sun et
al., CVPR 2024): the 32/64 student; CE weight 1, KD weight 9, base temperature 2
(temperatures 2, 3, 5, 2, 6).

A method beyond the comparison study, next to Table 2 (kdjax/methods/mlkd.py;
docs/methods.md says what it follows). Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/mlkd_ls.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/mlkd_ls
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib
from kdjax.methods import standardize


def get_config():
  return standardize.reference_settings(config_lib.sibling(__file__, 'mlkd'))
