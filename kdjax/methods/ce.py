"""Plain cross-entropy (`method='none'`): teachers and baseline students."""

from kdjax import losses
from kdjax.methods import base


def loss(student, teacher, labels, hparams):
  del teacher, hparams  # unused
  return losses.cross_entropy(student[0], labels)


METHOD = base.register(base.Method(
    'none', loss, needs_teacher=False, features=lambda config, options: ((), ())))
