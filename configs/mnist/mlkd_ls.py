"""MNIST multi-level logit distillation with logit standardisation (Sun et al.,
CVPR 2024): the 800-800 student; CE weight 1, KD weight 9, base temperature 2
(temperatures 2, 3, 5, 2, 6).

A method beyond the comparison study, next to Table 1's rows
(kdjax/methods/mlkd.py; docs/methods.md says what it follows). Run after the
teacher:
  python -m kdjax.main --config=configs/mnist/mlkd_ls.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/mlkd_ls
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib
from kdjax.methods import standardize


def get_config():
  return standardize.reference_settings(config_lib.sibling(__file__, 'mlkd'))
