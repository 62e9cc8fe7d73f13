"""CIFAR-10 CNN factor transfer (Kim et al., NeurIPS 2018): a paraphraser on
the teacher's last map before flattening (block_2, 4x4x256 -> factor 128
channels) trained alone for 30 epochs (by the study's Adam 1e-3, as every
stage of the study's configs, where RepDistiller uses SGD), then the 32/64 student's
translator on its last map (block_1, 8x8x64, pooled to 4x4 in the loss)
with CE + 200 * mean |F_s - F_t| (RepDistiller's `--distill factor -a 0 -b
200`; kdjax/methods/ft.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/ft.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/ft
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's), the
paraphraser and translator too.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'ft'
  config.ft.update(weight=200.0, student_layer='block_1', teacher_layer='block_2',
                   init_epochs=30)
  return config
