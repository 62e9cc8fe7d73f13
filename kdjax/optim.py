"""Optax optimizers and learning-rate schedules from `config.optimizer`."""

import ml_collections
import optax

from kdjax import errors

NAMES = ('adam', 'adamw', 'sgd')
SCHEDULES = ('constant', 'cosine')


def config(name='adam', learning_rate=1e-3, weight_decay=1e-4, momentum=0.9,
           nesterov=False, schedule='constant'):
  """Optimizer config for `create`.

  name: 'adam', 'adamw' or 'sgd' (momentum, nesterov: SGD only).
  weight_decay: coupled L2 for 'adam'/'sgd' (PyTorch's `weight_decay=`),
    decoupled for 'adamw'.
  schedule: 'constant' or 'cosine' (to 0 over the stage's steps).
  """
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, weight_decay=weight_decay,
      momentum=momentum, nesterov=nesterov, schedule=schedule))


def check(prefix: str, opt):
  """Raises `ConfigError` naming the first bad field of optimizer config `opt`."""
  lr, wd, momentum = opt.learning_rate, opt.weight_decay, opt.momentum
  for key, ok, expected in (
      ('name', opt.name in NAMES, f'one of {NAMES}'),
      ('schedule', opt.schedule in SCHEDULES, f'one of {SCHEDULES}'),
      ('learning_rate', errors.finite(lr) and lr > 0, 'a finite number > 0'),
      ('weight_decay', errors.finite(wd) and wd >= 0, 'a finite number >= 0'),
      ('momentum', errors.finite(momentum) and 0 <= momentum < 1, 'a number in [0, 1)')):
    if not ok:
      raise errors.ConfigError(
          f'{prefix}.{key}={opt[key]!r} is invalid; expected {expected}')


def create(config, total_steps: int) -> optax.GradientTransformation:
  """The optimizer a config names, with its schedule over `total_steps`.

  'adam' and 'sgd' apply `weight_decay` as coupled L2 (added to the gradient
  before the update), as PyTorch's `weight_decay=` does and the studies used;
  'adamw' decouples it (Loshchilov & Hutter).
  """
  lr = config.learning_rate
  if config.schedule == 'cosine':
    lr = optax.cosine_decay_schedule(lr, decay_steps=total_steps)
  if config.name == 'adamw':
    return optax.adamw(lr, weight_decay=config.weight_decay)
  if config.name == 'adam':
    update = optax.adam(lr)
  else:
    update = optax.sgd(lr, momentum=config.momentum or None,
                       nesterov=config.nesterov)
  if config.weight_decay:
    return optax.chain(optax.add_decayed_weights(config.weight_decay), update)
  return update
