"""Loss primitives the methods share (batch means, scalars); each method's
own loss is in its module under `kdjax/methods/`."""

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


def correct(logits, labels):
  """Per-example 0/1 correctness [B] (float32) of the arg-max prediction."""
  return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
