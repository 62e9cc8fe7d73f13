"""Test-set metrics, predictions and inference latency of a trained model."""

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax


def classification_metrics(logits, labels) -> dict:
  """Accuracy (%), error count and mean cross-entropy of logits [N, C]."""
  logits, labels = np.asarray(logits, np.float32), np.asarray(labels)
  errors = int((logits.argmax(-1) != labels).sum())
  loss = float(optax.softmax_cross_entropy_with_integer_labels(
      jnp.asarray(logits), jnp.asarray(labels)).mean())
  return {'accuracy': 100.0 * (1 - errors / len(labels)), 'errors': errors,
          'loss': loss, 'count': int(len(labels))}


def latency(model, variables, input_shape, *, batch_size: int, warmup: int,
            repeats: int) -> dict:
  """Eval-mode forward time in ms/sample on the default device.

  Times `repeats` jitted calls on a fixed float32 batch [batch_size,
  *input_shape] after `warmup` untimed calls (compilation excluded), each
  blocked until ready; ms/sample = call time / batch_size.
  """
  forward = jax.jit(lambda v, x: model.apply(v, x, train=False))
  x = jnp.zeros((batch_size, *input_shape), jnp.float32)
  for _ in range(warmup):
    forward(variables, x).block_until_ready()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    forward(variables, x).block_until_ready()
    times.append((time.perf_counter() - start) * 1e3 / batch_size)
  return {'ms_per_sample_mean': statistics.fmean(times),
          'ms_per_sample_std': statistics.stdev(times) if repeats > 1 else 0.0,
          'ms_per_sample_median': statistics.median(times),
          'method': (f'jit forward, batch {batch_size}, {warmup} warm-up + '
                     f'{repeats} timed calls, block_until_ready each'),
          'device': str(jax.devices()[0].device_kind),
          'scope': ("this run's own timing, once after training, on whatever "
                    'else the machine was doing; compare architectures with '
                    '`python -m kdjax.analysis latency`')}
