"""CIFAR-10 CNN contrastive representation distillation (Tian et al., ICLR
2020): the 32/64 student of Table 2 and the teacher each embed their
classifier input ('embedding': 256 and 1024 FC outputs) linearly to 128,
L2-normalised (both embeddings trained with the student), against memory
banks of all 50,000 training examples; CE + 0.8 * (L_NCE(P_s) + L_NCE(P_t))
with 16,384 negatives of other classes, tau = 0.07, momentum 0.5
(RepDistiller's defaults and README command; kdjax/methods/crd.py).

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/crd.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/crd
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's), the
embeddings too.
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'crd'
  config.crd.update(weight=0.8, feat_dim=128, nce_k=16384, nce_t=0.07, nce_m=0.5,
                    mode='exact')
  return config
