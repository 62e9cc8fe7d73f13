"""KD by singular value decomposition (Lee, Kim & Song, "Self-supervised
Knowledge Distillation Using Singular Value Decomposition", ECCV 2018), as
mdistiller implements it.

Reference code followed: mdistiller (`mdistiller/distillers/KDSVD.py`,
"original Tensorflow code: sseung0703/SSKD_SVD"; `engine/cfg.py`: K = 1, CE
weight 1, feature weight 1). Per paired layer l (student and teacher maps in
network order), each map is read as torch's [B, C, H, W] viewed as a
[B, C*H, W] matrix and decomposed, X = U S V^T; kept are the first k right
singular vectors of the teacher's and k + 3 of the student's (columns L2
normalised), and the first k singular values, L2-normalised, s_t. Of the
student's k + 3 vectors, the one with the largest |cosine| to each teacher
vector is taken, with the cosine's sign (`align_rsv`); both are scaled by
s_t: v_t, v_s [B, W, k]. Consecutive layers l-1, l are compared through the
RBF kernels of their vectors' entries,

  R[b, i, j, c] = exp(-(v^(l)[b, i, c] - v^(l-1)[b, j, c])^2 / 8),

  L = 1/B sum_(l >= 1) sum (R_s - R_t)^2      (non-finite entries count 0)

and the objective is CE + w * L, w = 1. Paper and code differ: the
authors' TensorFlow code decomposes [B, H*W, C] (vectors over channels);
mdistiller's view of an NCHW map is [B, C*H, W] (vectors over the width),
and kdjax follows mdistiller, whose tables users compare with. Singular
vectors are defined up to sign, which the kernels between layers do not
undo: the loss depends on the SVD routine's sign convention (LAPACK's
gesdd on CPU, as torch's and numpy's).
"""

import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs

WEIGHT = base.number('kdsvd.weight', 1.0, 'weight of the SVD term (FEAT_WEIGHT)', low=0,
                     symbol='w')
K = base.integer('kdsvd.k', 1, "singular vectors kept of the teacher's maps (K; the "
                 "student's: K + 3)", low=1, symbol='K')
PAIRS = pairs.key('kdsvd.pairs', help="layers paired, in network order, as "
                  "'student_feature:teacher_feature' (maps of equal height and width)")


def _finite(x):
  return jnp.where(jnp.isfinite(x), x, 0.0)


def _normalize(x, axis):
  """torch's F.normalize: x / max(|x|_2, 1e-12) along `axis`."""
  return x / jnp.maximum(jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=True)), 1e-12)


def svd(feature_map, n):
  """(first n right singular vectors [B, W, n], columns normalised; first n
  singular values [B, n], normalised) of a map [B, H, W, C] read as torch's
  [B, C*H, W] view of its NCHW layout."""
  b, h, w, c = feature_map.shape
  x = jnp.transpose(feature_map, (0, 3, 1, 2)).reshape(b, c * h, w).astype(jnp.float32)
  _, s, vt = jnp.linalg.svd(x, full_matrices=False)
  v = _finite(jnp.swapaxes(vt, -1, -2))
  return _normalize(v[:, :, :n], axis=1), _normalize(_finite(s)[:, :n], axis=1)


def align(v_s, v_t):
  """Of the student's vectors [B, W, m], for each teacher vector [B, W, k] the
  one of largest |cosine|, signed as the cosine (mdistiller's `align_rsv`)."""
  cosine = jnp.swapaxes(v_s, -1, -2) @ v_t  # [B, m, k]
  best = jnp.max(jnp.abs(cosine), axis=1, keepdims=True)
  mask = jnp.where(best == jnp.abs(cosine), jnp.sign(cosine), 0.0)
  return v_s @ mask


def _rbf(v, previous):
  return jnp.exp(-(v[:, :, None, :] - previous[:, None, :, :]) ** 2 / 8)


def _after(x, done):
  """x, made to wait for the array `done`, so that one SVD runs at a time:
  jaxlib's CPU SVD splits a large batch over XLA's thread pool and waits for
  it, and two at once on a small pool can wait for each other forever (seen
  on 2 cores with jax 0.10.2). XLA schedules by data, not by barriers, so the
  dependency is real: x + min(|done[0]|, 0), which is 0 for the finite
  `done` it gets, but not provably so."""
  first = jax.lax.stop_gradient(done.reshape(-1)[0])
  return x + jnp.minimum(jnp.abs(first), 0.0).astype(x.dtype)


def kdsvd_loss(student_maps, teacher_maps, k):
  """L over the paired maps (lists in network order, [B, H, W, C] each)."""
  total, previous, done = 0.0, None, None
  for f_s, f_t in zip(student_maps, teacher_maps):
    f_t = jax.lax.stop_gradient(f_t if done is None else _after(f_t, done))
    v_t, s_t = svd(f_t, k)
    v_s, _ = svd(_after(f_s, v_t), k + 3)
    done = v_s
    v_s = align(v_s, v_t)
    v_t, v_s = v_t * s_t[:, None, :], v_s * s_t[:, None, :]
    if previous is not None:
      diff = _rbf(v_s, previous[0]) - jax.lax.stop_gradient(_rbf(v_t, previous[1]))
      total = total + jnp.sum(_finite(diff * diff))
    previous = (v_s, v_t)
  return total / student_maps[0].shape[0]


def loss(student, teacher, labels, hparams, *, pairs, k):
  """(CE + w * L, {'ce', 'kdsvd'})."""
  ce = losses.cross_entropy(student[0], labels)
  term = hparams['weight'] * kdsvd_loss([student[1][s] for s, _ in pairs],
                                        [teacher[1][t] for _, t in pairs], k)
  return ce + term, {'ce': ce, 'kdsvd': term}


def _check_features(config, student, teacher):
  pairs.check(config, PAIRS.path, student, teacher)
  if len(config.kdsvd.pairs) < 2:
    raise errors.ConfigError(
        f'kdsvd.pairs={tuple(config.kdsvd.pairs)!r} pairs {len(config.kdsvd.pairs)} '
        'layer; expected at least 2 (the loss compares consecutive layers)')


METHOD = base.register(base.Method(
    'kdsvd', loss, keys=(WEIGHT, K, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].kdsvd.pairs),
                             'k': configs[0].kdsvd.k},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=_check_features))
