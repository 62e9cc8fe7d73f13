"""CIFAR-10 CNN KD by singular value decomposition (Lee et al., ECCV 2018):
the 32/64 student of Table 2 against the teacher at its two pooled blocks of
equal size (16x16: 32 vs 64 channels; 8x8: 64 vs 128), CE + 1.0 * L_SVD with
K = 1 (mdistiller's `engine/cfg.py` defaults; kdjax/methods/kdsvd.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/kdsvd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/kdsvd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'kdsvd'
  config.kdsvd.update(weight=1.0, k=1, pairs=('block_0:block_0', 'block_1:block_1'))
  return config
