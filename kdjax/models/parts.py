"""A student carrying its distillation method's own trainable parameters.

Some methods train parts of their own with the student (CTKD's temperature,
FitNets' regressor): a `head` module the method declares (`Method.head`),
called on the student's features, and where the module says
`reads_teacher = True` also on the teacher's (CC's embeddings of both
networks; `reads_teacher`). Its parameters live beside the student's
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
  def __call__(self, x, *, train: bool = False, return_features: bool = False,
               teacher_features=None):
    logits, features = self.student(x, train=train, return_features=True)
    if not return_features:  # evaluation: the parts serve only the loss
      return logits
    parts = (self.method(features, teacher_features) if reads_teacher(self.method)
             else self.method(features))
    return logits, {**features, 'method': parts}


def reads_teacher(module) -> bool:
  """Whether `module` (a head, or a `WithMethodParts` carrying one) is called
  on the teacher's features too: `head(student_features, teacher_features)`,
  the teacher's as the objective gets them (the forward's, or the cache's)."""
  if isinstance(module, WithMethodParts):
    module = module.method
  return bool(getattr(module, 'reads_teacher', False))


def init_head(head: nn.Module, rng, feature_shapes: dict, teacher_shapes=None):
  """The initial params of `head` for features of `feature_shapes` ({name:
  shape struct [1, ...]}, 'logits' ignored; and the teacher's,
  `teacher_shapes`, for a head that `reads_teacher`), as a root module keyed
  by `rng`."""
  zeros = lambda shapes: {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items()
                          if k != 'logits'}
  inputs = (zeros(feature_shapes),) + ((zeros(teacher_shapes or {}),)
                                       if reads_teacher(head) else ())
  return jax.jit(lambda r: head.init(r, *inputs))(rng).get('params', {})


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
