"""Similarity-preserving KD (Tung & Mori, "Similarity-Preserving Knowledge
Distillation", ICCV 2019): the student matches, at paired layers, the
teacher's pairwise similarities between the examples of the batch.

Reference code: RepDistiller (HobbitLong/RepDistiller, `distiller_zoo/SP.py`,
"verified by original author"; mdistiller's `distillers/SP.py` is the same).
For a feature A [B, ...] of one layer, flattened to Q [B, D] (D = H*W*C for a
map), the paper's (Sec. 3) similarity matrix, its row-wise L2 normalisation
and the loss:

  G~ = Q Q^T [B, B],   G[i, :] = G~[i, :] / |G~[i, :]|_2,
  L_SP = 1/B^2 * sum_(l, l') |G_t^(l) - G_s^(l')|_F^2,

and the objective it trains, the paper's CE + gamma * L_SP:

  CE(s, y) + beta * L_SP

over the pairs (l, l') of `sp.pairs` ('student_feature:teacher_feature'),
with RepDistiller's CIFAR weight beta = 3000 (`scripts/run_cifar_distill.sh`:
`--distill similarity -a 0 -b 3000`, its CE weight `-r` 1). Paper and code
agree; the row normalisation is the code's `F.normalize`, x / max(|x|,
1e-12). RepDistiller applies one pair, each network's last feature map
before the global pooling (`helper/loops.py`: `feat[-2]`).

G is [B, B] whatever the feature's size, so the two layers of a pair may
differ in shape (spatial size, channels, even rank): only the batch is
shared. Every pair is refused in one line where it names no feature, and an
empty `sp.pairs` is refused.
"""

import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs

WEIGHT = base.number('sp.weight', 3000.0, 'beta of the similarity-preserving term',
                     low=0, symbol='β')
PAIRS = pairs.key('sp.pairs', help="layers paired, as 'student_feature:teacher_feature' "
                  '(any shapes [B, ...]: the similarities are [B, B])')


def similarity(features):
  """Row-normalised Gram matrix [B, B] of features [B, ...] (G of the paper)."""
  q = features.reshape(features.shape[0], -1).astype(jnp.float32)
  g = q @ q.T
  norm = jnp.sqrt(jnp.maximum(jnp.sum(g * g, axis=-1, keepdims=True), 1e-24))
  return g / norm  # F.normalize's x / max(|x|, 1e-12)


def sp_loss(student_features, teacher_features):
  """|G_t - G_s|_F^2 / B^2 of one pair (one term of L_SP)."""
  batch = student_features.shape[0]
  diff = jax.lax.stop_gradient(similarity(teacher_features)) - similarity(student_features)
  return jnp.sum(diff * diff) / (batch * batch)


def loss(student, teacher, labels, hparams, *, pairs):
  """(CE + beta * sum over pairs of `sp_loss`, {'ce', 'sp'})."""
  ce = losses.cross_entropy(student[0], labels)
  sp = hparams['weight'] * sum(sp_loss(student[1][s], teacher[1][t]) for s, t in pairs)
  return ce + sp, {'ce': ce, 'sp': sp}


def _check_features(config, student, teacher):
  """At least one pair (`train.check_features` checks that the names exist)."""
  if not config.sp.pairs:
    offer = lambda shapes: sorted(k for k in shapes if k != 'logits')
    raise errors.ConfigError(
        f"sp.pairs=() names no layers; expected 'student:teacher' pairs from the "
        f'student features {offer(student)} and the teacher features {offer(teacher)}')


METHOD = base.register(base.Method(
    'sp', loss, keys=(WEIGHT, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].sp.pairs)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=_check_features))
