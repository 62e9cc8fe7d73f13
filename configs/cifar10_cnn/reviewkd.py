"""CIFAR-10 CNN knowledge review (Chen et al., CVPR 2021): the 32/64 student
of Table 2 reviews its two pooled blocks and its classifier input (16x16x32,
8x8x64, 256) through attention-based fusion modules onto the teacher's
pre-activation maps of equal size and its classifier input (16x16x128,
8x8x256, 1024), CE + 1.0 * min(epoch / 20, 1) * HCL (mdistiller's
`engine/cfg.py` defaults: the 20 warm-up epochs span this 20-epoch run;
kdjax/methods/reviewkd.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/reviewkd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/reviewkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's); the
fusion modules' convs as mdistiller's (kaiming-uniform, a = 1).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'reviewkd'
  config.reviewkd.update(weight=1.0, warmup_epochs=20.0, pairs=(
      'block_0:preact_1', 'block_1:preact_2', 'embedding:embedding'))
  return config
