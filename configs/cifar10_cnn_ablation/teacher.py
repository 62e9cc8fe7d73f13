"""The comparison study's CIFAR-10 CNN teacher (4,576,394 params) trained with
the ResNet-34 -> MobileNetV2 study's recipe (seeds/000 sec. 2.3): SGD momentum
0.9, cosine to 0, weight decay 1e-4, batch 128, random crop with 4-px padding
and horizontal flip; peak lr 0.01, not 0.1 (at 0.1 and 0.05 these
BatchNorm-free CNNs diverged; see `config.cifar10_cnn_ablation`); 20 epochs,
half the students' 40, as the study's teacher had half its students' epochs
(100 and 200). The
CPU-scale answer to that study's T/alpha questions (issue 12); these are CNN
numbers, not ResNet-34 / MobileNetV2 ones.

  python -m kdjax.main --config=configs/cifar10_cnn_ablation/teacher.py \\
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \\
      --workdir=runs/cifar10_cnn_ablation/teacher
Initialisation: Flax's (model.param_init='flax'): its runs predate the key.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn_ablation(epochs=20)
  config.model = config.teacher.model
  return config
