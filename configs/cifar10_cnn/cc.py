"""CIFAR-10 CNN correlation congruence (Peng et al., ICCV 2019): the 32/64
student of Table 2 and the teacher each embed their classifier input
('embedding': 256 and 1024 FC outputs) linearly to 128 (both embeddings
trained with the student), and CE + 0.02 * L_CC (RepDistiller's CIFAR
setting, `scripts/run_cifar_distill.sh`; kdjax/methods/cc.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/cc.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/cc
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's), the
embeddings too.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'cc'
  config.cc.update(weight=0.02, feat_dim=128)
  return config
