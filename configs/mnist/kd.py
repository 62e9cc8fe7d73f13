"""MNIST Vanilla KD: the 800-800 student distilled at T=20, alpha=0.1 (eqs.
1-2).

Comparison study (seeds/004) Table 1, row "Vanilla KD". Run after the teacher:
  python -m kdjax.main --config=configs/mnist/kd.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/kd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'kd'
  config.distill.temperature = 20.0
  config.distill.alpha = 0.1
  return config
