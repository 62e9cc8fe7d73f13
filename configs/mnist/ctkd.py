"""MNIST curriculum temperature KD (Li et al., AAAI 2023): the 800-800 student,
alpha = 0.1, tau in (1, 21), the reversal's cosine ramp scaled to this run: 10
of 240 epochs there, 2 of 20 here (one epoch would ramp nothing: the schedule
is 1-based).

A method beyond the comparison study, next to Table 1's rows
(kdjax/methods/ctkd.py; docs/methods.md says what it follows). Run after the
teacher:
  python -m kdjax.main --config=configs/mnist/ctkd.py \
      --config.dataset.data_dir=../shared/data/mnist \
      --config.teacher.workdir=runs/mnist/teacher --workdir=runs/mnist/ctkd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.get_base_config()
  config.model = config_lib.mlp((800, 800))
  config.method = 'ctkd'
  config.distill.alpha = 0.1
  config.ctkd.update(temperature_min=1.0, temperature_range=20.0, lambda_max=1.0,
                     lambda_epochs=2.0)
  return config
