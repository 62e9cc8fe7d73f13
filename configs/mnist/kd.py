"""MNIST vanilla KD: the 800-800 student distilled at T=20, alpha=0.1.

Comparison study (seeds/004) Table 1, row "Vanilla KD" (eqs. 1-2). Run after
the teacher:
  python -m kdjax.main --config=configs/mnist/kd.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/kd
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'kd'
  config.distill.temperature = 20.0
  config.distill.alpha = 0.1
  config.teacher.model = config_lib.mlp((1200, 1200), dropout=0.2)
  return config
