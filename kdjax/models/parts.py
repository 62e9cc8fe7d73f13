"""A student carrying its distillation method's own trainable parameters.

Some methods train parts of their own with the student (CTKD's temperature,
FitNets' regressor): a `head` module the method declares (`Method.head`),
called on the student's features. Its parameters live beside the student's
in one variables dict, {'params': {'student': ..., 'method': ...},
'batch_stats': {'student': ...}}, so the pure step, its optimizer,
checkpoints (bit-exact resume), grids and data-parallel runs carry them
unchanged; `detach` takes the student's own variables out for evaluation,
parameter counts and the saved model.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class WithMethodParts(nn.Module):
  """`student`, whose features gain 'method': the outputs of the method's
  head module `method` (`Method.head`), called on the student's features."""
  student: nn.Module
  method: nn.Module

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    logits, features = self.student(x, train=train, return_features=True)
    features = {**features, 'method': self.method(features)}
    return (logits, features) if return_features else logits


def init_head(head: nn.Module, rng, feature_shapes: dict):
  """The initial params of `head` for features of `feature_shapes` ({name:
  shape struct [1, ...]}, 'logits' ignored), as a root module keyed by `rng`."""
  features = {k: jnp.zeros(v.shape, v.dtype) for k, v in feature_shapes.items()
              if k != 'logits'}
  return jax.jit(lambda r: head.init(r, features))(rng).get('params', {})


def attach(variables: dict, parts) -> dict:
  """The student's `variables` with the method's `parts` (params) beside them."""
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
