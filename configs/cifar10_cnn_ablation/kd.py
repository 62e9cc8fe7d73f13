"""KD of the CNN student from the CNN teacher under the ResNet study's recipe
(see teacher.py), T=4, alpha=0.3: the base of the T/alpha sweep
experiments/sweeps/cnn_ablation.py (alpha=1 there is the baseline student).

  python -m kdjax.main --config=configs/cifar10_cnn_ablation/kd.py \\
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \\
      --config.teacher.workdir=runs/cifar10_cnn_ablation/teacher \\
      --workdir=runs/cifar10_cnn_ablation/kd
Initialisation: Flax's (model.param_init='flax'): its runs predate the key.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn_ablation()
  config.method = 'kd'
  config.distill.update(temperature=4.0, alpha=0.3)
  return config
