"""MNIST BN + residual variant. Student baseline: MLP 784-800-800-10 on hard
labels (1,280,010 params).

Comparison study (seeds/004) Table 3 (BN + residual, sec. 6), row "Student
Normal". Run:
  python -m kdjax.main --config=configs/mnist/student_bn.py \
      --config.dataset.data_dir=../shared/data/mnist --workdir=runs/mnist/student_bn
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800), bn_residual=True)
  return config
