"""kdjax's XLA options: where they apply, and that XLA accepts them."""

import os
import types

import jax
import jax.numpy as jnp
import numpy as np

from kdjax import loop
from kdjax import models
from kdjax import xla_options
from kdjax.models import cnn
from tests.conftest import REPO
from tests.conftest import load_config


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


def test_evaluation_takes_the_training_options_and_a_grid_predicts_each_student(
    monkeypatch):
  """A CNN run's eval compiles with the training options of its `loop.plan`
  (their speed-up is measured in `xla_options`); the grid's eval gives each
  student's logits."""
  config = load_config(os.path.join(REPO, 'configs', 'cifar10_cnn', 'student.py'))
  config.train.eval_batch_size = 8
  asked = []
  real = xla_options.for_training
  monkeypatch.setattr(xla_options, 'for_training', lambda c, *a: asked.append(c) or real(c, *a))
  run_plan = loop.plan(config)
  assert asked == [True]  # the CNN config is convolutional
  assert run_plan.compiler_options == real(True)
  compiled_with = []
  real_jit = jax.jit
  monkeypatch.setattr(loop.jax, 'jit', lambda f, **kw: compiled_with.append(
      kw.get('compiler_options')) or real_jit(f, **kw))
  data = types.SimpleNamespace(mean=np.full(3, 0.5, np.float32), std=np.full(3, 0.25, np.float32))
  model = cnn.CNN(convs=(4,), dense=(8,))
  single = loop.predictor(run_plan, data, model)
  grid = loop.predictor(run_plan, data, model, grid=True)
  assert compiled_with == [run_plan.compiler_options] * 2
  images = np.random.RandomState(0).randint(0, 256, (20, 32, 32, 3)).astype(np.uint8)
  students = [models.init(model, jax.random.PRNGKey(i), (32, 32, 3)) for i in range(3)]
  stacked = jax.tree.map(lambda *a: jnp.stack(a).reshape((1, 3) + a[0].shape), *students)
  logits = grid(stacked, images)
  assert logits.shape == (1, 3, 20, 10)
  for i, variables in enumerate(students):
    np.testing.assert_allclose(logits[0, i], single(variables, images), rtol=1e-5, atol=1e-5)
