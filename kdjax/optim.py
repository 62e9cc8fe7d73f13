"""Optax optimizers and learning-rate schedules from `config.optimizer`."""

import optax


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
