"""CIFAR-10 CNN attention transfer (Zagoruyko & Komodakis, ICLR 2017): the
32/64 student of Table 2 matches the teacher's attention maps after its
first two pooled blocks (16x16 and 8x8), beta=1000, p=2: the authors' code's
beta * sum of the groups' mean squared map differences (the paper writes
beta/2; kdjax/methods/attention.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/at.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/at
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'at'
  config.at.update(weight=1000.0, p=2.0, pairs=('block_0:block_0', 'block_1:block_1'))
  return config
