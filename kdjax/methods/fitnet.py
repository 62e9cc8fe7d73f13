"""FitNets (Romero et al.; comparison study eq. 3): a hint stage, then KD.

Stage 1 ('stage1', `fitnet.stage1_*`) fits `regressor(student[guided_layer])`
to `teacher[hint_layer]`, training only the student's layers up to the
guided one and the regressor (the method's stage parts, `Regressor`, dropped
after the stage); stage 2 is vanilla KD from the stage-1 weights with
`distill.*`. The trainer runs the stage from its declaration (`base.Stage`).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import optim
from kdjax.methods import base
from kdjax.methods import kd
from kdjax.models import layers

KEYS = kd.KEYS + (
    base.Key('fitnet.hint_layer', 'hidden_0',
             'teacher feature that stage 1 regresses onto'),
    base.Key('fitnet.guided_layer', 'hidden_1',
             'student feature fed to the regressor in stage 1'),
    base.integer('fitnet.stage1_epochs', 10, 'epochs of the hint stage'),
    base.optimizer_key('fitnet.stage1_optimizer', optim.config(),
                       'optimizer of the hint stage (keys as optimizer.*)'),
)


def hint_loss(regressed, hint):
  """FitNets stage-1 loss, study eq. (3): ||r(h_s) - h_t||^2.

  Mean of squared errors over batch and feature entries ([B, ...] both), i.e.
  eq. (3) divided by the feature size (a constant that Adam does not see).
  """
  return jnp.mean(jnp.square(regressed - jax.lax.stop_gradient(hint)))


class Regressor(nn.Module):
  """Maps the student's feature `guided` to `channels` units: a Dense layer
  for vectors [B, D], a 1x1 convolution for maps [B, H, W, C] (Romero et
  al.), initialised by `param_init` (the student's: PyTorch's `nn.Linear`/
  `nn.Conv2d` defaults under 'torch', as the references' regressors)."""
  guided: str
  channels: int
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, features):
    h = features[self.guided]
    init = layers.scheme(self.param_init)
    if h.ndim == 2:
      return {'regressed': layers.dense(self.channels, init=init, name='regressor')(h)}
    return {'regressed': layers.conv(self.channels, (1, 1), init=init,
                                     name='regressor')(h)}


def _regressor(config, student, teacher):
  del student  # unused
  return Regressor(config.fitnet.guided_layer,
                   teacher[config.fitnet.hint_layer].shape[-1],
                   config.model.get('param_init', 'flax'))


def _hint(student, teacher, labels, hparams, *, hint_layer):
  del labels, hparams  # unused
  hint = hint_loss(student[1]['method']['regressed'], teacher[1][hint_layer])
  return hint, {'hint': hint}


def hint_objective(config) -> base.Objective:
  """Stage 1's objective."""
  layer = config.fitnet.hint_layer
  return base.Objective('hint', _hint, (layer,), (('hint_layer', layer),))


HINT_STAGE = base.Stage(
    'stage1', 'fitnet.stage1_epochs', 'fitnet.stage1_optimizer', hint_objective,
    head=_regressor,
    trainable=lambda config, student: student.trunk(config.fitnet.guided_layer))


def _check_features(config, student, teacher):
  """The guided and hint layers exist and differ at most in channels."""
  fit = config.fitnet
  for key, name, shapes, who in (
      ('fitnet.guided_layer', fit.guided_layer, student, 'student'),
      ('fitnet.hint_layer', fit.hint_layer, teacher, 'teacher')):
    if name not in shapes or name == 'logits':
      raise errors.ConfigError(
          f'{key}={name!r} is not a feature of the {who} model; expected one of '
          f'{sorted(k for k in shapes if k != "logits")}')
  guided, hint = student[fit.guided_layer], teacher[fit.hint_layer]
  if len(guided.shape) != len(hint.shape) or guided.shape[1:-1] != hint.shape[1:-1]:
    raise errors.ConfigError(
        f'fitnet.guided_layer={fit.guided_layer!r} has shape {guided.shape[1:]}, '
        f'fitnet.hint_layer={fit.hint_layer!r} has {hint.shape[1:]}; expected '
        'the same rank and spatial size (the regressor maps channels only)')


METHOD = base.register(base.Method(
    'fitnet', kd.loss, keys=KEYS, hparams=kd.HPARAMS, stages=(HINT_STAGE,),
    check_features=_check_features))
