"""kdjax's XLA options: where they apply, and that XLA accepts them."""

import jax
import jax.numpy as jnp
import numpy as np

from kdjax import xla_options


def test_only_convolutional_models_on_cpu_get_options(monkeypatch):
  assert xla_options.for_training(True, 'cpu') == xla_options.YNN
  assert xla_options.for_training(False, 'cpu') == {}
  assert xla_options.for_training(True, 'gpu') == {}
  monkeypatch.setenv('KDJAX_XLA_OPTIONS', '0')
  assert xla_options.for_training(True, 'cpu') == {}


def test_xla_compiles_with_them_and_computes_the_same():
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 3))
  k = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 5))
  f = lambda x, k: jnp.sum(jax.lax.conv_general_dilated(
      x, k, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')) ** 2, axis=(1, 2))
  lowered = jax.jit(f).lower(x, k)
  options = xla_options.for_training(True, jax.default_backend())
  np.testing.assert_allclose(lowered.compile(options)(x, k), lowered.compile()(x, k),
                             rtol=1e-5)
