"""MNIST vanilla KD with logit standardisation (Sun et al., CVPR 2024): the
800-800 student with the reference's CE weight 1, KD weight 9, base
temperature 2.

A method beyond the comparison study, next to Table 1's rows
(kdjax/methods/kd.py; docs/methods.md says what it follows). Run after the
teacher:
  python -m kdjax.main --config=configs/mnist/kd_ls.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/kd_ls
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib
from kdjax.methods import standardize


def get_config():
  return standardize.reference_settings(config_lib.sibling(__file__, 'kd'))
