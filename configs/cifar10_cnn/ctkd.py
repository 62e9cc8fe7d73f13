"""CIFAR-10 CNN curriculum temperature KD (Li et al., AAAI 2023): the 32/64
student, alpha = 0.1, tau in (1, 21), the reversal's cosine ramp scaled to
this run: 10 of 240 epochs there, 2 of 20 here (one epoch would ramp nothing:
the schedule is 1-based).

A method beyond the comparison study, next to Table 2 (kdjax/methods/ctkd.py;
docs/methods.md says what it follows). Run after the teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/ctkd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/ctkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'ctkd'
  config.distill.alpha = 0.1
  config.ctkd.update(temperature_min=1.0, temperature_range=20.0, lambda_max=1.0,
                     lambda_epochs=2.0)
  return config
