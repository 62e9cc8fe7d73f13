"""Optax optimizers and learning-rate schedules from `config.optimizer`."""

import ml_collections
import optax

from kdjax import errors

NAMES = ('adam', 'adamw', 'sgd')
SCHEDULES = ('constant', 'cosine', 'multistep')


def config(name='adam', learning_rate=1e-3, weight_decay=1e-4, momentum=0.9,
           nesterov=False, schedule='constant', decay_epochs=(), decay_factor=0.1):
  """Optimizer config for `create`.

  name: 'adam', 'adamw' or 'sgd' (momentum, nesterov: SGD only).
  weight_decay: coupled L2 for 'adam'/'sgd' (PyTorch's `weight_decay=`),
    decoupled for 'adamw'.
  schedule: 'constant', 'cosine' (to 0 over the stage's steps) or
    'multistep' (x `decay_factor` after each of `decay_epochs`, as
    PyTorch's MultiStepLR stepped once an epoch: with (150, 180, 210), the
    151st epoch is the first at 0.1x).
  """
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, weight_decay=weight_decay,
      momentum=momentum, nesterov=nesterov, schedule=schedule,
      decay_epochs=tuple(decay_epochs), decay_factor=decay_factor))


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
  epochs, factor = tuple(opt.get('decay_epochs', ())), opt.get('decay_factor', 0.1)
  if not (errors.finite(factor) and 0 < factor <= 1):
    raise errors.ConfigError(f'{prefix}.decay_factor={factor!r} is invalid; expected a '
                             'number in (0, 1]')
  if not all(isinstance(e, int) and not isinstance(e, bool) and e > 0 for e in epochs) or (
      list(epochs) != sorted(set(epochs))):
    raise errors.ConfigError(f'{prefix}.decay_epochs={epochs!r} is invalid; expected '
                             'increasing epochs > 0, e.g. (150, 180, 210)')
  if (opt.schedule == 'multistep') != bool(epochs):
    raise errors.ConfigError(
        f'{prefix}.schedule={opt.schedule!r} with decay_epochs={epochs!r}; expected '
        "decay_epochs with schedule='multistep' and only with it")


def create(config, total_steps: int, steps_per_epoch: int = 0) -> optax.GradientTransformation:
  """The optimizer a config names, with its schedule over `total_steps`
  (`steps_per_epoch` places a 'multistep' schedule's decays).

  'adam' and 'sgd' apply `weight_decay` as coupled L2 (added to the gradient
  before the update), as PyTorch's `weight_decay=` does and the studies used;
  'adamw' decouples it (Loshchilov & Hutter).
  """
  lr = config.learning_rate
  if config.schedule == 'cosine':
    lr = optax.cosine_decay_schedule(lr, decay_steps=total_steps)
  elif config.schedule == 'multistep':
    if steps_per_epoch < 1:
      raise ValueError('a multistep schedule needs steps_per_epoch to place its decays')
    # optax scales from update index `boundary` on: the first update of the
    # epoch after each of decay_epochs.
    lr = optax.piecewise_constant_schedule(lr, {
        int(epoch) * steps_per_epoch: config.decay_factor for epoch in config.decay_epochs})
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
