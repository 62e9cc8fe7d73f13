"""FitNets (Romero et al.; comparison study eq. 3): a hint stage, then KD.

Stage 1 fits `regressor(student[guided_layer])` to `teacher[hint_layer]`
(training only the student's layers up to the guided one and the regressor;
the trainer runs it, see `train._fitnet_stage1`); stage 2 is vanilla KD from
the stage-1 weights with `distill.*`.
"""

import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import optim
from kdjax.methods import base
from kdjax.methods import kd

KEYS = kd.KEYS + (
    base.Key('fitnet.hint_layer', 'hidden_0',
             'teacher feature that stage 1 regresses onto'),
    base.Key('fitnet.guided_layer', 'hidden_1',
             'student feature fed to the regressor in stage 1'),
    base.Key('fitnet.stage1_epochs', 10, 'epochs of the hint stage',
             lambda v: isinstance(v, int) and v >= 0, 'an integer >= 0'),
    base.Key('fitnet.stage1_optimizer', optim.config(),
             'optimizer of the hint stage (keys as optimizer.*)'),
)


def hint_loss(regressed, hint):
  """FitNets stage-1 loss, study eq. (3): ||r(h_s) - h_t||^2.

  Mean of squared errors over batch and feature entries ([B, ...] both), i.e.
  eq. (3) divided by the feature size (a constant that Adam does not see).
  """
  return jnp.mean(jnp.square(regressed - jax.lax.stop_gradient(hint)))


def _hint(student, teacher, labels, hparams, *, hint_layer):
  del labels, hparams  # unused
  return hint_loss(student[1]['regressed'], teacher[1][hint_layer])


def hint_objective(config) -> base.Objective:
  """Stage 1's objective (the student carries a regressor: `WithRegressor`)."""
  layer = config.fitnet.hint_layer
  return base.Objective('hint', _hint, (layer,), (('hint_layer', layer),))


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
    'fitnet', kd.loss, keys=KEYS, hparams=kd.HPARAMS, two_stage=True,
    check_features=_check_features,
    check=lambda config: optim.check('fitnet.stage1_optimizer',
                                     config.fitnet.stage1_optimizer)))
