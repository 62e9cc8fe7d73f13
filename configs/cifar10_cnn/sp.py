"""CIFAR-10 CNN similarity-preserving KD (Tung & Mori, ICCV 2019): the 32/64
student of Table 2 matches the teacher's batch similarity matrices at its
last feature map, CE + 3000 * L_SP (RepDistiller's CIFAR setting,
`scripts/run_cifar_distill.sh`; kdjax/methods/sp.py).

The pair is 'block_1:block_1': the student's last map before its classifier
(8x8x64, after its second conv and pool), which is what RepDistiller pairs
(`feat[-2]`, each network's last map), with the teacher's map after as many
conv + pool stages (8x8x128). The teacher's own last map, block_2, is 4x4:
SP's [B, B] similarities would accept it, but ResNet students and teachers in
the reference end at the same resolution, and the maps of equal spatial size
are the pairs that attention transfer (at.py) and NST (nst.py) use too.

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/sp.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/sp
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'sp'
  config.sp.update(weight=3000.0, pairs=('block_1:block_1',))
  return config
