"""CIFAR-10 CNN FitNet: convs 32/48/64, 83,450 params (regressor excluded).

Pooling after the first two convs (32 -> 16 -> 8), no hidden FC. Stage 1 fits
a 1x1-conv regressor on the 48-filter conv's output (16x16x48, before its
pool) to the teacher's first block after pooling (16x16x64); stage 2 is KD at
T=4, alpha=0.1. Comparison study (seeds/004) Table 2, row "FitNet". Run:
  python -m kdjax.main --config=configs/cifar10_cnn/fitnet.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/fitnet
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 48, 64), pool=(True, True, False))
  config.method = 'fitnet'
  config.distill.update(temperature=4.0, alpha=0.1)
  config.fitnet.update(hint_layer='block_0', guided_layer='conv_1', stage1_epochs=5)
  return config
