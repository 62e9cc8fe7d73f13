"""MNIST teacher: MLP 784-1200-1200-10, dropout 0.2 (2,395,210 params).

Comparison study (seeds/004) Table 1, row "Teacher". Run:
  python -m kdjax.main --config=configs/mnist/teacher.py \
      --config.dataset.data_dir=../shared/data/mnist --workdir=runs/mnist/teacher
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((1200, 1200), dropout=0.2)
  return config
