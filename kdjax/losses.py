"""Distillation objectives as pure functions of logits (batch means, scalars).

Notation follows the comparison study (seeds/004, sec. 2): `alpha` weighs the
hard-label term, `temperature` softens both distributions.
"""

import jax
import jax.numpy as jnp
import optax


def cross_entropy(logits, labels):
  """Mean softmax cross-entropy; logits [B, C] float, labels [B] int."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def kl_divergence(teacher_logits, student_logits, temperature=1.0):
  """Mean over the batch of KL(p_teacher^T || p_student^T), in nats.

  The direction PyTorch's `kl_div(log p_s, p_t)` and Hinton et al. use; the
  teacher's distribution is the target (its gradient is stopped).
  """
  log_p_t = jax.nn.log_softmax(jax.lax.stop_gradient(teacher_logits) / temperature)
  log_p_s = jax.nn.log_softmax(student_logits / temperature)
  return jnp.sum(jnp.exp(log_p_t) * (log_p_t - log_p_s), axis=-1).mean()


def kd_loss(student_logits, teacher_logits, labels, *, temperature, alpha):
  """Hinton KD, study eqs. (1)-(2): a*CE(s, y) + (1-a)*T^2*KL(p_t^T || p_s^T).

  The T^2 factor keeps the soft term's gradient, (1-a)*T*(p_s^T - p_t^T)/B
  w.r.t. the student logits, on the scale of the hard term's.
  """
  soft = kl_divergence(teacher_logits, student_logits, temperature)
  return alpha * cross_entropy(student_logits, labels) + (
      (1.0 - alpha) * temperature**2 * soft)


def correct(logits, labels):
  """Per-example 0/1 correctness [B] (float32) of the arg-max prediction."""
  return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)


def hint_loss(regressed, hint):
  """FitNets stage-1 loss, study eq. (3): ||r(h_s) - h_t||^2.

  Mean of squared errors over batch and feature entries ([B, ...] both), i.e.
  eq. (3) divided by the feature size (a constant that Adam does not see).
  """
  return jnp.mean(jnp.square(regressed - jax.lax.stop_gradient(hint)))


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
  """Distances divided by the mean of the non-zero ones (study eq. 4)."""
  dist, _ = _gram_distances(embeddings)
  positive = dist > 0
  mean = jnp.sum(dist) / jnp.maximum(jnp.sum(positive), 1)
  return dist / jnp.where(mean > 0, mean, 1.0)


def smooth_l1(x, y, delta=1.0):
  """Mean Huber loss (PyTorch's smooth_l1_loss with beta=delta)."""
  diff = jnp.abs(x - y)
  return jnp.mean(jnp.where(diff < delta, 0.5 * diff**2 / delta, diff - 0.5 * delta))


def rkd_distance_loss(student_embeddings, teacher_embeddings):
  """RKD distance-wise loss (Park et al.; study eqs. 4-5).

  Pairwise distances within the batch of student [B, Ds] and teacher [B, Dt]
  embeddings, each normalised by its mean non-zero distance, compared with
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


def rkd_angle_loss(student_embeddings, teacher_embeddings):
  """RKD angle-wise loss (Park et al. eq. 8-9): smooth-L1 between triplet angles."""
  return smooth_l1(_angles(student_embeddings),
                   jax.lax.stop_gradient(_angles(teacher_embeddings)))
