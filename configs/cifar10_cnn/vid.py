"""CIFAR-10 CNN variational information distillation (Ahn et al., CVPR 2019):
the 32/64 student of Table 2 predicts the teacher's maps after its first
two pooled blocks (16x16x64 and 8x8x128) from its own (16x16x32, 8x8x64)
through the method's regressors and per-channel variances
(kdjax/methods/vid.py), beta=1, CE weight 1, no KD term: RepDistiller's
`-r 1 -a 0 -b 1`. Its regressors are trained with the student by its Adam,
as RepDistiller trains them with the student's optimizer.

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/vid.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/vid
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's), the
regressors' too.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'vid'
  config.vid.update(weight=1.0, init_variance=5.0,
                    pairs=('block_0:block_0', 'block_1:block_1'))
  return config
