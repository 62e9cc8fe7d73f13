"""Plain cross-entropy (`method='none'`): teachers and baseline students."""

from kdjax import losses
from kdjax.methods import base


def loss(student, teacher, labels, hparams):
  del teacher, hparams  # unused
  return losses.cross_entropy(student[0], labels)


def loss_with_term(student, teacher, labels, hparams):
  """The same, with its term named: the main run of the methods whose
  distillation is all in a stage before it (AB, FSP: RepDistiller's
  `loss_kd = 0` after their init stage)."""
  ce = loss(student, teacher, labels, hparams)
  return ce, {'ce': ce}


METHOD = base.register(base.Method(
    'none', loss, needs_teacher=False, features=lambda config, options: ((), ())))
