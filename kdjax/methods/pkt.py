"""Probabilistic knowledge transfer (Passalis & Tefas, "Learning Deep
Representations with Probabilistic Knowledge Transfer", ECCV 2018): the
student matches the teacher's distribution of pairwise cosine similarities
between the embeddings of the batch (each model's 'embedding' feature, the
classifier's input, as `rkd` reads it).

Reference code: RepDistiller (HobbitLong/RepDistiller, `distiller_zoo/PKT.py`,
"code from author", passalis/probabilistic_kt; mdistiller's
`distillers/PKT.py` and torchdistill's `PKTLoss` are the same). The paper's
(Sec. 3) cosine-similarity kernel and conditional probabilities, for
embeddings x [B, D]:

  K(a, b) = (a^T b / (|a| |b|) + 1) / 2,
  p_(j|i) = K(x_i, x_j) / sum_k K(x_i, x_k)     (teacher: p, student: q)

and the loss, KL(P || Q), averaged as the code does:

  L_PKT = 1/B^2 * sum_(i, j) p_(j|i) log((p_(j|i) + eps) / (q_(j|i) + eps)),
  eps = 1e-7,

trained as CE(s, y) + weight * L_PKT with RepDistiller's weight = 30000
(`scripts/run_cifar_distill.sh`: `--distill pkt -a 0 -b 30000`, CE weight 1).

Paper and code differ, and kdjax follows the code: the paper's sums run over
j != i only (p_(i|i) is left out of the distributions and of the KL) and are
not divided by B^2; the code keeps the diagonal (K(x_i, x_i) = 1), takes the
mean over the B x B entries and adds eps inside the logarithm. The code's
norms are |x| + eps (x / (|x| + eps)); an all-zero embedding (dead ReLUs)
then has cosine 0 with every other, as in the code, and here a finite
gradient (the code's sqrt at 0 has none). The code also zeroes NaNs after
normalising, which finite inputs never produce.
"""

import jax
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base

WEIGHT = base.number('pkt.weight', 30000.0, 'weight of the PKT term (KL of the '
                     'cosine-similarity distributions)', low=0, symbol='β')
EPS = 1e-7  # the reference's eps of the norms and of the logarithm


def conditional_probabilities(embeddings, eps=EPS):
  """p_(j|i) [B, B] of embeddings [B, ...]: the cosine kernel, rows normalised."""
  x = embeddings.reshape(embeddings.shape[0], -1).astype(jnp.float32)
  sq = jnp.sum(x * x, axis=-1, keepdims=True)
  # sqrt(0)'s gradient is inf; 0 * inf would be NaN for an all-zero row.
  norm = jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)
  x = x / (norm + eps)
  kernel = (x @ x.T + 1.0) / 2.0
  return kernel / jnp.sum(kernel, axis=-1, keepdims=True)


def pkt_loss(student_embeddings, teacher_embeddings, eps=EPS):
  """Mean over the B x B entries of p log((p + eps) / (q + eps)), p the teacher's."""
  q = conditional_probabilities(student_embeddings, eps)
  p = jax.lax.stop_gradient(conditional_probabilities(teacher_embeddings, eps))
  return jnp.mean(p * (jnp.log(p + eps) - jnp.log(q + eps)))


def loss(student, teacher, labels, hparams):
  """(CE + weight * `pkt_loss` of the embeddings, {'ce', 'pkt'})."""
  ce = losses.cross_entropy(student[0], labels)
  pkt = hparams['weight'] * pkt_loss(student[1]['embedding'], teacher[1]['embedding'])
  return ce + pkt, {'ce': ce, 'pkt': pkt}


METHOD = base.register(base.Method(
    'pkt', loss, keys=(WEIGHT,), hparams={'weight': WEIGHT.path},
    features=lambda config, options: (('embedding',), ('embedding',))))
