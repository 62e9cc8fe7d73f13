"""MNIST decoupled KD (Zhao et al., CVPR 2022): the 800-800 student with
TCKD weight alpha=1, NCKD weight beta=8, T=4 (the paper's CIFAR-100
defaults), its warm-up scaled to this run: 20 of 240 epochs there, 2 of 20 here.

Not a row of the comparison study: a method beyond it, next to Table 1's
student and KD rows. Run after the teacher:
  python -m kdjax.main --config=configs/mnist/dkd.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/dkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'dkd'
  config.dkd.update(alpha=1.0, beta=8.0, temperature=4.0, warmup_epochs=2.0)
  return config
