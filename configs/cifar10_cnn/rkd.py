"""CIFAR-10 CNN RKD: the 32/64 student with CE + 100 * distance-wise RKD.

Embeddings: the students' and the teacher's FC outputs (256 vs 1024).
Comparison study (seeds/004) Table 2, row "RKD". Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/rkd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/rkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'rkd'
  config.distill.rkd_distance_weight = 100.0
  return config
