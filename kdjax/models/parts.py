"""A student carrying its distillation method's own trainable parameters.

Some methods train parameters of their own with the student (CTKD's
temperature). They live beside the student's in one variables dict,
{'params': {'student': ..., 'method': ...}, 'batch_stats': {'student': ...}},
so the pure step, its optimizer, checkpoints (bit-exact resume), grids and
data-parallel runs carry them unchanged; `detach` takes the student's own
variables out for evaluation, parameter counts and the saved model.
"""

from typing import Callable

import flax.linen as nn


class WithMethodParts(nn.Module):
  """`student`, whose features gain 'method': the method's parameters.

  init_parts: () -> pytree of float32 arrays, their initial values.
  """
  student: nn.Module
  init_parts: Callable

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    logits, features = self.student(x, train=train, return_features=True)
    parts = self.param('method', lambda rng: self.init_parts())
    features = {**features, 'method': parts}
    return (logits, features) if return_features else logits


def attach(variables: dict, parts) -> dict:
  """The student's `variables` with the method's `parts` beside them."""
  out = {'params': {'student': variables['params'], 'method': parts}}
  if variables.get('batch_stats'):
    out['batch_stats'] = {'student': variables['batch_stats']}
  return out


def detach(variables: dict) -> tuple:
  """(the student's own variables, the method's parts) of `attach`ed ones."""
  out = {'params': variables['params']['student']}
  if variables.get('batch_stats'):
    out['batch_stats'] = variables['batch_stats']['student']
  return out, variables['params']['method']
