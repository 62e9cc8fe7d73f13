"""CIFAR-10 CNN decoupled KD (Zhao et al., CVPR 2022): the 32/64 student of
Table 2 with alpha=1, beta=8, T=4 (the paper's CIFAR-100 defaults), its
warm-up scaled to this run: 20 of 240 epochs there, 2 of 20 here.

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/dkd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/dkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'dkd'
  config.dkd.update(alpha=1.0, beta=8.0, temperature=4.0, warmup_epochs=2.0)
  return config
