"""Neuron selectivity transfer (Huang & Wang, "Like What You Like: Knowledge
Distill via Neuron Selectivity Transfer", arXiv 1707.01219, 2017): the
student matches the distribution of the teacher's channels, each channel's
map over the positions a sample of "neuron selectivity", by the maximum mean
discrepancy under a polynomial kernel.

Reference code: RepDistiller (HobbitLong/RepDistiller, `distiller_zoo/NST.py`,
`NSTLoss` with `full_loss = True`; mdistiller's `distillers/NST.py` is the
same). For a feature map A [B, H, W, C], each channel's map flattened to
f^c [H*W] and L2-normalised (`F.normalize(dim=2)`: f / max(|f|, 1e-12)),
with the paper's polynomial kernel k(x, y) = (x^T y + c)^d, d = 2, c = 0:

  MMD^2 = 1/C_t^2 sum_(i, i') k(f_t^i, f_t^i') + 1/C_s^2 sum_(j, j') k(f_s^j, f_s^j')
          - 2/(C_t C_s) sum_(i, j) k(f_t^i, f_s^j)

per example, averaged over the batch (the code's `.mean()` of each [B, C, C]
kernel), and the objective

  CE(s, y) + beta * sum_j MMD^2_j

over the pairs j of `nst.pairs` ('student_feature:teacher_feature'), with
RepDistiller's beta = 50 (`scripts/run_cifar_distill.sh`: `--distill nst
-a 0 -b 50`, CE weight 1; it pairs every stage's output, `feat[1:-1]`).
Paper and code differ in the weight: the paper writes lambda / 2 times the
MMD^2, the code (and kdjax) beta times it, so beta = lambda / 2. The
teacher-teacher term has no gradient; it is kept (the code's full loss), so
that the value is the MMD^2 itself, 0 where the distributions agree.

Maps of different height or width are pooled as the reference does, where
one size divides the other: the larger map is average-pooled to the smaller
one's height and width (`F.adaptive_avg_pool2d`, whose windows are then the
non-overlapping blocks; `pairs.pool_to`). Other pairs are refused in one line
(`pairs.check`), as VID's are (vid.py); the reference pools them too, with
overlapping windows, and reads the height only, pooling to a square
(t_H, t_H). The channel counts may differ (the kernel compares channels, not
positions). Models without feature maps, an empty `nst.pairs` and a pair
naming no feature map are refused in one line too.
"""

import jax
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs

WEIGHT = base.number('nst.weight', 50.0, 'beta of the NST term (polynomial-kernel MMD^2)',
                     low=0, symbol='β')
PAIRS = pairs.key('nst.pairs', help="stages paired, as 'student_feature:teacher_feature' "
                  '(feature maps [B, H, W, C]; the larger one is average-pooled to '
                  "the other's height and width, which must divide its own)")


def selectivity(features):
  """Channel maps [B, C, H*W] of a map [B, H, W, C], each L2-normalised."""
  f = features.astype(jnp.float32)
  f = jnp.swapaxes(f.reshape(f.shape[0], -1, f.shape[-1]), 1, 2)
  norm = jnp.sqrt(jnp.maximum(jnp.sum(f * f, axis=-1, keepdims=True), 1e-24))
  return f / norm  # F.normalize's x / max(|x|, 1e-12)


def _poly_mean(a, b):
  """Mean over the batch and channel pairs of (a_i^T b_j)^2 (d = 2, c = 0)."""
  return jnp.mean(jnp.square(jnp.einsum('bin,bjn->bij', a, b)))


def nst_loss(student_features, teacher_features):
  """MMD^2 of one pair of maps [B, H, W, C], the larger average-pooled to the
  smaller's height and width (which divide its own: `pairs.check`)."""
  size = tuple(map(min, student_features.shape[1:3], teacher_features.shape[1:3]))
  s = selectivity(pairs.pool_to(student_features.astype(jnp.float32), size))
  t = jax.lax.stop_gradient(selectivity(pairs.pool_to(teacher_features.astype(jnp.float32),
                                                      size)))
  return _poly_mean(t, t) + _poly_mean(s, s) - 2.0 * _poly_mean(s, t)


def loss(student, teacher, labels, hparams, *, pairs):
  """(CE + beta * sum over pairs of `nst_loss`, {'ce', 'nst'})."""
  ce = losses.cross_entropy(student[0], labels)
  nst = hparams['weight'] * sum(nst_loss(student[1][s], teacher[1][t]) for s, t in pairs)
  return ce + nst, {'ce': ce, 'nst': nst}


METHOD = base.register(base.Method(
    'nst', loss, keys=(WEIGHT, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].nst.pairs)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=lambda config, student, teacher: pairs.check(
        config, 'nst.pairs', student, teacher, pool=True)))
