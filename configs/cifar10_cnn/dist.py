"""CIFAR-10 CNN DIST (Huang et al., NeurIPS 2022): the 32/64 student with the
released code's CIFAR recipe, tau = 4 and beta = gamma = 2 (its
dist_cifar.yaml: `kd: dist_t4`, `kd_loss_weight: 2`; the keys' defaults are
its ImageNet setting, tau = 1, beta = gamma = 1).

A method beyond the comparison study, next to Table 2 (kdjax/methods/dist.py;
docs/methods.md says what it follows). Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/dist.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/dist
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'dist'
  config.dist.update(beta=2.0, gamma=2.0, temperature=4.0)
  return config
