"""MNIST DIST (Huang et al., NeurIPS 2022): the 800-800 student with the released
code's beta = gamma = 1, tau = 1.

A method beyond the comparison study, next to Table 1's rows
(kdjax/methods/dist.py; docs/methods.md says what it follows). Run after the
teacher:
  python -m kdjax.main --config=configs/mnist/dist.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/dist
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'dist'
  config.dist.update(beta=1.0, gamma=1.0, temperature=1.0)
  return config
