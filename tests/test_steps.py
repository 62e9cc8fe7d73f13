"""The pure steps: purity, epoch order, batched prediction."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from kdjax import config as config_lib
from kdjax import methods
from kdjax import models
from kdjax import steps

SHAPE = (8, 8, 1)


def setup(method='none', dropout=0.1):
  model = models.create(config_lib.mlp((16,), dropout=dropout), 10)
  tx = optax.adam(1e-2)
  state = steps.create_state(models.init(model, steps.init_rng(0), SHAPE), tx, steps.stage_rng(0))
  teacher = models.create(config_lib.mlp((32,)), 10) if method == 'kd' else None
  teacher_vars = models.init(teacher, jax.random.PRNGKey(9), SHAPE) if teacher else None
  spec = steps.Step(model=model, tx=tx, objective=methods.get(method).objective([config_lib.get_base_config()]),
                    teacher=teacher, augmentation=steps.Augmentation(1, False, (0.3,), (0.4,)))
  step = jax.jit(spec)
  images = jax.random.randint(jax.random.PRNGKey(1), (32, *SHAPE), 0, 256).astype(jnp.uint8)
  labels = jnp.arange(32) % 10
  hparams = {'temperature': jnp.float32(4.0), 'alpha': jnp.float32(0.5)}
  return state, step, (images, labels), teacher_vars, hparams, model, spec


def test_train_step_is_a_pure_function():
  state, step, batch, teacher_vars, hparams, *_ = setup('kd')
  rng = jax.random.PRNGKey(5)
  a, ma = step(state, batch, rng, teacher_vars, hparams)
  b, mb = step(state, batch, rng, teacher_vars, hparams)
  c, _ = step(state, batch, jax.random.PRNGKey(6), teacher_vars, hparams)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)
  assert ma == mb
  assert int(a.step) == 1 and float(ma['count']) == 32
  assert not np.array_equal(a.params['dense_0']['kernel'], c.params['dense_0']['kernel'])


def test_kd_hparams_change_the_update():
  state, step, batch, teacher_vars, hparams, *_ = setup('kd', dropout=0.0)
  rng = jax.random.PRNGKey(5)
  a, _ = step(state, batch, rng, teacher_vars, hparams)
  b, _ = step(state, batch, rng, teacher_vars, {**hparams, 'alpha': jnp.float32(1.0)})
  plain = setup('none', dropout=0.0)
  c, _ = plain[1](plain[0], batch, rng, None, hparams)
  assert not np.allclose(a.params['head']['kernel'], b.params['head']['kernel'])
  # alpha = 1 is plain cross-entropy training.
  np.testing.assert_allclose(b.params['head']['kernel'], c.params['head']['kernel'],
                             atol=1e-6)


def test_epoch_order_is_a_permutation_per_epoch():
  root = jax.random.PRNGKey(0)
  e0 = np.asarray(steps.epoch_order(root, 0, 100, 3, 32))
  e1 = np.asarray(steps.epoch_order(root, 1, 100, 3, 32))
  assert e0.shape == (3, 32) and len(set(e0.ravel())) == 96
  assert not np.array_equal(e0, e1)
  np.testing.assert_array_equal(e0, steps.epoch_order(root, 0, 100, 3, 32))


def test_train_epoch_equals_stepping_by_hand():
  state, step, (images, labels), teacher_vars, hparams, _, spec = setup('kd')
  epoch = jax.jit(functools.partial(steps.train_epoch, steps=2, batch_size=16,
                                    step_fn=spec))
  got, sums = epoch(state, images, labels, teacher_vars, hparams)
  order = steps.epoch_order(state.rng, 0, 32, 2, 16)
  manual = state
  for idx in order:
    manual, _ = step(manual, (images[idx], labels[idx]),
                     jax.random.fold_in(state.rng, manual.step), teacher_vars, hparams)
  for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(manual)):
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
  assert float(sums['count']) == 32


def test_predict_pads_the_last_batch():
  state, _, (images, _), _, _, model, _ = setup()
  variables = {'params': state.params}
  logits = steps.predict(variables, images[:27], model=model, mean=(0.3,),
                         std=(0.4,), batch_size=10)
  direct = model.apply(variables, (images[:27].astype(jnp.float32) / 255 - 0.3) / 0.4)
  assert logits.shape == (27, 10)
  np.testing.assert_allclose(logits, direct, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', ['vmap', 'unroll'])
def test_grid_epoch_equals_separate_runs(kind):
  """A vmapped 2 seeds x 2 (T, alpha) grid == the 4 runs apart."""
  _, _, (images, labels), teacher_vars, _, model, step = setup('kd')
  tx = optax.adam(1e-2)
  seeds, points = (0, 1), ((2.0, 0.1), (8.0, 0.9))
  new = lambda seed: steps.create_state(
      models.init(model, steps.init_rng(seed), SHAPE), tx, steps.stage_rng(seed))
  hp = lambda t, a: {'temperature': jnp.float32(t), 'alpha': jnp.float32(a)}
  kwargs = dict(steps=2, batch_size=16)
  separate = {}
  epoch_fn = jax.jit(functools.partial(steps.train_epoch, step_fn=step, **kwargs))
  for seed in seeds:
    for t, a in points:
      s = new(seed)
      for _ in range(2):  # two epochs
        s, _ = epoch_fn(s, images, labels, teacher_vars, hp(t, a))
      separate[seed, t] = s
  stack = lambda trees: jax.tree.map(lambda *x: jnp.stack(x), *trees)
  together = stack([stack([new(seed)] * len(points)) for seed in seeds])
  stacked_h = stack([stack([hp(t, a) for t, a in points])] * len(seeds))
  grid_step = steps.GridStep(step, kind)
  grid_fn = jax.jit(functools.partial(steps.grid_epoch, step_fn=grid_step, **kwargs))
  for _ in range(2):
    together, sums = grid_fn(together, images, labels, teacher_vars, stacked_h)
  assert sums['count'].shape == (2, 2)
  for i, seed in enumerate(seeds):
    for j, (t, _) in enumerate(points):
      for x, y in zip(jax.tree.leaves(separate[seed, t].params),
                      jax.tree.leaves(together.params)):
        np.testing.assert_allclose(y[i, j], x, atol=1e-5)
  kernels = together.params['head']['kernel']
  assert not np.allclose(kernels[0, 0], kernels[0, 1])
  assert not np.allclose(kernels[0, 0], kernels[1, 0])
