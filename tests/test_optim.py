"""Optimizers: coupled L2 as PyTorch applies `weight_decay`, and schedules."""

import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import optim


def opt(**kwargs):
  config = config_lib.get_base_config().optimizer
  config.update(kwargs)
  return config


def test_adam_with_coupled_l2_first_step():
  # First Adam step: update = -lr * g' / (|g'| + eps), g' = g + wd * p.
  params, grads = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.1, 0.0, -0.3])
  tx = optim.create(opt(name='adam', learning_rate=0.01, weight_decay=0.1), 10)
  updates, _ = tx.update(grads, tx.init(params), params)
  g = np.array([0.1, 0.0, -0.3]) + 0.1 * np.array([1.0, -2.0, 0.5])
  np.testing.assert_allclose(updates, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-5)


def test_sgd_momentum_with_l2_two_steps():
  params, grads = jnp.array([1.0]), jnp.array([0.5])
  tx = optim.create(opt(name='sgd', learning_rate=0.1, weight_decay=0.01,
                        momentum=0.9), 10)
  state = tx.init(params)
  u1, state = tx.update(grads, state, params)
  params2 = params + u1
  u2, _ = tx.update(grads, state, params2)
  g1 = 0.5 + 0.01 * 1.0
  g2 = 0.5 + 0.01 * float(params2[0])
  np.testing.assert_allclose(u1, [-0.1 * g1], rtol=1e-6)
  np.testing.assert_allclose(u2, [-0.1 * (0.9 * g1 + g2)], rtol=1e-6)


def test_cosine_schedule_reaches_zero():
  params, grads = jnp.array([1.0]), jnp.array([1.0])
  tx = optim.create(opt(name='sgd', learning_rate=0.1, weight_decay=0.0,
                        momentum=0.0, schedule='cosine'), 4)
  state, sizes = tx.init(params), []
  for _ in range(5):
    u, state = tx.update(grads, state, params)
    sizes.append(-float(u[0]))
  np.testing.assert_allclose(sizes, [0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05,
                                     0.1 * (1 + np.cos(3 * np.pi / 4)) / 2, 0.0],
                             atol=1e-7)


def test_multistep_decays_after_each_milestone_epoch_like_multisteplr():
  """PyTorch's MultiStepLR(milestones=(2, 3), gamma=0.1), stepped once per
  epoch: epochs 0-1 at lr, epoch 2 at 0.1 lr, epoch 3 on at 0.01 lr. With
  plain SGD (no momentum, no decay) each update is -lr * grad."""
  steps_per_epoch = 3
  tx = optim.create(opt(name='sgd', learning_rate=0.5, weight_decay=0.0, momentum=0.0,
                        schedule='multistep', decay_epochs=(2, 3), decay_factor=0.1),
                    total_steps=5 * steps_per_epoch, steps_per_epoch=steps_per_epoch)
  params = {'w': jnp.zeros(())}
  state = tx.init(params)
  rates = []
  for _ in range(5 * steps_per_epoch):
    updates, state = tx.update({'w': jnp.ones(())}, state, params)
    rates.append(-float(updates['w']))
  expected = [0.5] * 6 + [0.05] * 3 + [0.005] * 6
  np.testing.assert_allclose(rates, expected, rtol=1e-6)


@pytest.mark.parametrize('fields,match', [
    (dict(schedule='multistep'), r"schedule='multistep' with decay_epochs=\(\)"),
    (dict(decay_epochs=(150,)), r"schedule='constant' with decay_epochs=\(150,\)"),
    (dict(schedule='multistep', decay_epochs=(180, 150)), 'increasing epochs'),
    (dict(schedule='multistep', decay_epochs=(150,), decay_factor=float('nan')),
     'decay_factor=nan'),
])
def test_multistep_settings_are_checked(fields, match):
  with pytest.raises(errors.ConfigError, match=match):
    optim.check('optimizer', opt(**fields))
