"""CIFAR-10 CNN activation-boundary distillation (Heo et al., AAAI 2019): the
32/64 student of Table 2 is initialised for 30 epochs on the activation
boundaries of the teacher's convs of equal size (pre-ReLU; 32x32: 32 -> 64
channels, 16x16: 64 -> 128, through 1x1 conv + BN connectors) by the
study's Adam 1e-3 (as every stage of the study's configs; RepDistiller: SGD),
then trained by cross-entropy alone (RepDistiller's `--distill abound -a 0
-b 1`; kdjax/methods/ab.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/ab.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/ab
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's), the
connectors too.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'ab'
  config.ab.update(pairs=('preact_0:preact_0', 'preact_1:preact_1'), margin=1.0,
                   init_epochs=30)
  return config
