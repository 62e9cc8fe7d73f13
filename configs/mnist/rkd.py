"""MNIST RKD: the 800-800 student with CE + 100 * distance-wise RKD (eqs. 4-6)
on the penultimate embeddings (800 vs the teacher's 1200).

Comparison study (seeds/004) Table 1, row "RKD". Run after the teacher:
  python -m kdjax.main --config=configs/mnist/rkd.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/rkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'rkd'
  config.distill.rkd_distance_weight = 100.0
  config.distill.rkd_angle_weight = 0.0
  return config
