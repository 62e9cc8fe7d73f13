"""MNIST BN + residual variant. FitNet: 4x300 student (511,810 params), two
stages (Romero et al.).

Stage 1 (10 epochs; the study does not give a number) fits a Dense regressor
on the student's 2nd hidden layer (300 units) to the teacher's 1st hidden
layer (1200 units); stage 2 is vanilla KD (T=20, alpha=0.1) for 20 epochs
from the stage-1 weights. The regressor is not part of the student.

Comparison study (seeds/004) Table 3 (BN + residual, sec. 6), row "FitNet".
Run after the teacher:
  python -m kdjax.main --config=configs/mnist/fitnet_bn.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/fitnet_bn
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((300, 300, 300, 300), bn_residual=True)
  config.method = 'fitnet'
  config.distill.temperature = 20.0
  config.distill.alpha = 0.1
  config.fitnet.hint_layer = 'hidden_0'
  config.fitnet.guided_layer = 'hidden_1'
  config.fitnet.stage1_epochs = 10
  return config
