"""CIFAR-10 CNN neuron selectivity transfer (Huang & Wang 2017): the 32/64
student of Table 2 matches the distributions of the teacher's channel maps
after its first two pooled blocks, CE + 50 * sum of the pairs' polynomial
MMD^2 (RepDistiller's CIFAR setting, `scripts/run_cifar_distill.sh`; the
paper writes lambda/2; kdjax/methods/nst.py).

Pairs: 'block_0:block_0' (16x16, 32 vs 64 channels) and 'block_1:block_1'
(8x8, 64 vs 128): every stage of the student with the teacher's stage after
as many conv + pool steps, as RepDistiller pairs every stage (`feat[1:-1]`)
of ResNets that share their resolutions. Maps of equal spatial size need no
pooling (nst.py would average-pool the larger one where the sizes divide, as
the reference does); they are the pairs of at.py too.

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/nst.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/nst
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'nst'
  config.nst.update(weight=50.0, pairs=('block_0:block_0', 'block_1:block_1'))
  return config
