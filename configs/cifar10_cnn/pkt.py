"""CIFAR-10 CNN probabilistic knowledge transfer (Passalis & Tefas, ECCV
2018): the 32/64 student of Table 2 matches the teacher's distributions of
cosine similarities between the batch's embeddings, CE + 30000 * L_PKT
(RepDistiller's CIFAR setting, `scripts/run_cifar_distill.sh`;
kdjax/methods/pkt.py).

Embeddings: each model's classifier input, 'embedding' (the FC outputs, 256
vs 1024), as RepDistiller's `feat[-1]` and as rkd.py; the cosine kernel needs
no equal sizes. No layer pairs to choose.

A method beyond the comparison study, next to Table 2's rows. Run after the
teacher:
  python -m kdjax.main --config=configs/cifar10_cnn/pkt.py \
      --config.dataset.data_dir=../shared/data/cifar10-jpeg \
      --config.teacher.workdir=runs/cifar10_cnn/teacher --workdir=runs/cifar10_cnn/pkt
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config():
  config = config_lib.cifar10_cnn()
  config.model = config_lib.cnn((32, 64), dense=(256,))
  config.method = 'pkt'
  config.pkt.weight = 30000.0
  return config
