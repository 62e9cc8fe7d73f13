"""Relational KD (Park et al.; comparison study eqs. 4-6): CE plus the
distance-wise (weight beta) and optionally angle-wise (gamma) relations of
the batch's embeddings (each model's 'embedding' feature)."""

import jax
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base

DISTANCE = base.number('distill.rkd_distance_weight', 100.0,
                       'beta of the distance-wise RKD term', low=0, symbol='β')
ANGLE = base.number('distill.rkd_angle_weight', 0.0,
                    'weight of the angle-wise RKD term (O(B^3); 0 = off)',
                    low=0, symbol='γ', show_zero=False)


def _gram_distances(embeddings):
  """(Euclidean distances [B, B], Gram matrix [B, B]) of embeddings [B, D].

  The embeddings are centred on their batch mean first: distances and
  angles do not change, but the Gram matrix no longer carries the common
  offset, whose size would otherwise cancel out in float32 (embeddings at
  c + 0.01 N(0, 1) lost up to 7e-4 relative in the angle loss). A squared
  distance counts as zero when it is at most 1e-12 of the largest one, a
  scale-free rule, so scaling the batch never moves a pair across it. The
  diagonal is exactly 0 and the square root never sees 0, so gradients stay
  finite for duplicated or collapsed embeddings.
  """
  e = embeddings.reshape(embeddings.shape[0], -1).astype(jnp.float32)
  e = e - jnp.mean(e, axis=0, keepdims=True)
  gram = e @ e.T
  sq = jnp.diag(gram)
  d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0)
  positive = d2 > 1e-12 * jax.lax.stop_gradient(jnp.max(d2))
  dist = jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)
  return dist, gram


def _normalized_distances(embeddings):
  """Distances divided by their mean over the pairs i != j (study eq. 4's mu).

  Over all pairs, as eq. 4 and Park et al.'s code (whose clamp makes every
  off-diagonal distance positive) have it. A mean over the non-zero
  distances only was discontinuous: a near-duplicate pair, whose float32
  distance is rounding noise at the batch's spread, moved in and out of its
  count and the loss jumped (tests/test_losses.py). The two agree whenever
  no pair is a duplicate, as in training batches."""
  dist, _ = _gram_distances(embeddings)
  # B(B - 1), counted from the data (the diagonal is exactly 0) so that the
  # division is the program's earlier one, bit for bit, on batches without
  # duplicates: a constant divisor may be folded into a multiplication.
  pairs = jnp.sum(~jnp.eye(dist.shape[0], dtype=bool) | (dist > 0))
  mean = jnp.sum(dist) / jnp.maximum(pairs, 1)
  return dist / jnp.where(mean > 0, mean, 1.0)


def smooth_l1(x, y, delta=1.0):
  """Mean Huber loss (PyTorch's smooth_l1_loss with beta=delta)."""
  diff = jnp.abs(x - y)
  return jnp.mean(jnp.where(diff < delta, 0.5 * diff**2 / delta, diff - 0.5 * delta))


def distance_loss(student_embeddings, teacher_embeddings):
  """RKD distance-wise loss (Park et al.; study eqs. 4-5).

  Pairwise distances within the batch of student [B, Ds] and teacher [B, Dt]
  embeddings, each normalised by its mean distance over all pairs i != j
  (duplicates' zeros included, see `_normalized_distances`), compared with
  smooth-L1 averaged over the B x B entries. Invariant to scaling either set.
  """
  student = _normalized_distances(student_embeddings)
  teacher = jax.lax.stop_gradient(_normalized_distances(teacher_embeddings))
  return smooth_l1(student, teacher)


def _angles(embeddings):
  """cos of the angle at vertex a of (e_b, e_a, e_c): [B, B, B] (Park et al.).

  <e_b - e_a, e_c - e_a> / (|e_b - e_a| |e_c - e_a|) from the Gram matrix, so
  memory is O(B^3), not O(B^2 D); zero-length sides give 0 as in the paper's
  F.normalize.
  """
  dist, gram = _gram_distances(embeddings)
  diag = jnp.diag(gram)
  dots = (gram[None, :, :] - gram[:, :, None] - gram[:, None, :]
          + diag[:, None, None])
  inv = jnp.where(dist > 0, 1.0 / jnp.where(dist > 0, dist, 1.0), 0.0)
  return dots * inv[:, :, None] * inv[:, None, :]


def angle_loss(student_embeddings, teacher_embeddings):
  """RKD angle-wise loss (Park et al. eq. 8-9): smooth-L1 between triplet angles."""
  return smooth_l1(_angles(student_embeddings),
                   jax.lax.stop_gradient(_angles(teacher_embeddings)))


def loss(student, teacher, labels, hparams, *, angle):
  """CE + beta * distance loss (+ gamma * angle loss when `angle`, static)."""
  s_emb, t_emb = student[1]['embedding'], teacher[1]['embedding']
  terms = {'ce': losses.cross_entropy(student[0], labels),
           'distance': hparams['rkd_distance'] * distance_loss(s_emb, t_emb)}
  total = terms['ce'] + terms['distance']
  if angle:
    terms['angle'] = hparams['rkd_angle'] * angle_loss(s_emb, t_emb)
    total += terms['angle']
  return total, terms


METHOD = base.register(base.Method(
    'rkd', loss, keys=(DISTANCE, ANGLE),
    hparams={'rkd_distance': DISTANCE.path, 'rkd_angle': ANGLE.path},
    # The O(B^3) angle term is compiled in only where some point weighs it.
    options=lambda configs: {'angle': any(c.distill.rkd_angle_weight > 0
                                          for c in configs)},
    features=lambda config, options: (('embedding',), ('embedding',))))
