"""Activation-boundary distillation (Heo, Lee, Yun & Choi, "Knowledge
Transfer via Distillation of Activation Boundaries Formed by Hidden
Neurons", AAAI 2019), as RepDistiller implements it.

Reference code followed: RepDistiller (`distiller_zoo/AB.py`, after the
authors' bhheo/AB_distillation; `models/util.py` `Connector` and `ConvReg`;
`helper/pretrain.py` `init`; `train_student.py` and its README command
`--distill abound -a 0 -b 1`). Each student map of `ab.pairs` (its
pre-activation: before the ReLU) passes through a connector to the
teacher's shape: none where channels and height agree, else `ConvReg` (a
3x3 stride-2 conv where the student's map is twice the teacher's height, a
4x4 stride-2 transposed conv where half, a (1 + dH) x (1 + dW) conv where
larger or equal), then BatchNorm (its batch statistics: the connector is
dropped after the stage, so its running ones are never read). The
alternative L2 loss of each pair l (margin mu = 1), with s the connected
student map and t the teacher's pre-activation,

  L_l = sum (s + mu)^2 [s > -mu and t <= 0] + (s - mu)^2 [s <= mu and t > 0],

weighted w_l = 2^(l - n + 1) (the last pair 1, each earlier one half the
next), is L = 3/1000 * 1/B * sum_l w_l L_l. AB serves only the
initialisation: `ab.init_epochs` (30) epochs of L, training the connectors
and the student's layers up to its last paired map (not its classifier) by constant SGD at
the student's rate (0.05, 0.01 for the lightweight students; momentum 0.9,
L2 5e-4: RepDistiller's `helper/pretrain.py`), then the main run with
cross-entropy alone (its `loss_kd = 0`, `-a 0`). Paper and code agree on
the loss; the weights and the 3/1000 scale are the code's.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import optim
from kdjax.methods import base
from kdjax.methods import ce
from kdjax.methods import pairs
from kdjax.models import layers

PAIRS = pairs.key('ab.pairs', help="pre-activation maps paired, in network order, as "
                  "'student_feature:teacher_feature'")
MARGIN = base.number('ab.margin', 1.0, 'margin mu of the alternative L2 loss (static)',
                     low=0, low_open=True, symbol='μ')
KEYS = (
    PAIRS, MARGIN,
    base.integer('ab.init_epochs', 30, 'epochs of the activation-boundary initialisation stage'),
    base.optimizer_key('ab.init_optimizer',
                       optim.config('sgd', 0.05, weight_decay=5e-4, momentum=0.9),
                       'optimizer of the initialisation stage (keys as optimizer.*; '
                       "RepDistiller: its CIFAR run's SGD 0.05)"),
)


class Connectors(nn.Module):
  """RepDistiller's `Connector`: each paired student map [B, h, w, c] to its
  teacher map's shape [B, H, W, C], as 'pair_<i>' (the method's stage parts)."""
  pairs: tuple  # ((student feature, teacher feature), ...)
  targets: tuple  # each teacher map's (H, W, C)
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, features):
    init = layers.scheme(self.param_init)
    out = {}
    for i, ((s, t), (height, width, channels)) in enumerate(zip(self.pairs, self.targets)):
      x = features[s].astype(jnp.float32)
      h, w, c = x.shape[1:]
      if (c, h) == (channels, height):
        out[f'pair_{i}'] = x
        continue
      if h == 2 * height:
        x = layers.conv(channels, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                        init=init, name=f'conv_{i}')(x)
      elif 2 * h == height:  # ConvTranspose2d(4, stride 2, padding 1): 2x the size
        x = nn.ConvTranspose(channels, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)),
                             transpose_kernel=True, name=f'conv_{i}',
                             **layers.initializers(init, channels * 16))(x)  # torch's fan_in
      else:
        x = layers.conv(channels, (1 + h - height, 1 + w - width), padding='VALID',
                        init=init, name=f'conv_{i}')(x)
      out[f'pair_{i}'] = layers.batch_statistics_norm(self, x, f'bn_{i}')
    return out


def ab_loss(connected, teacher_maps, margin):
  """L of the connected student maps and the teacher's (lists, network order)."""
  n, batch = len(connected), connected[0].shape[0]
  total = 0.0
  for i, (s, t) in enumerate(zip(connected, teacher_maps)):
    t = jax.lax.stop_gradient(t).astype(jnp.float32)
    l2 = (jnp.square(s + margin) * ((s > -margin) & (t <= 0)) +
          jnp.square(s - margin) * ((s <= margin) & (t > 0)))
    total = total + 2.0 ** (i - n + 1) * jnp.sum(jnp.abs(l2)) / batch
  return total / 1000 * 3


def _init_loss(student, teacher, labels, hparams, *, pairs, margin):
  del labels, hparams  # unused
  parts = student[1]['method']
  ab = ab_loss([parts[f'pair_{i}'] for i in range(len(pairs))],
               [teacher[1][t] for _, t in pairs], margin)
  return ab, {'ab': ab}


def _init_objective(config) -> base.Objective:
  chain = pairs.parse(config.ab.pairs)
  return base.Objective('ab', _init_loss, tuple(t for _, t in chain),
                        (('margin', float(config.ab.margin)), ('pairs', chain)))


def _connectors(config, student, teacher):
  del student  # the shapes come with the features
  chain = pairs.parse(config.ab.pairs)
  return Connectors(chain, tuple(tuple(teacher[t].shape[1:]) for _, t in chain),
                    config.model.get('param_init', 'flax'))


INIT_STAGE = base.Stage(
    'init', 'ab.init_epochs', 'ab.init_optimizer', _init_objective, head=_connectors,
    trainable=lambda config, student: pairs.student_trunk(config, PAIRS.path, student))


def _check_features(config, student, teacher):
  """Pairs of maps whose heights the connector can map (equal, double, half,
  or larger), each named among the models' maps."""
  chain = pairs.parse(config.ab.pairs)
  if not chain:
    raise errors.ConfigError(
        f"ab.pairs=() names no layers; expected 'student:teacher' pairs of "
        f'pre-activation maps from the student maps {pairs.map_names(student)} and the '
        f'teacher maps {pairs.map_names(teacher)}')
  pairs.check_named(PAIRS.path, chain, student, teacher)
  for s, t in chain:
    h, height = student[s].shape[1], teacher[t].shape[1]
    if not (h >= height or 2 * h == height):
      raise errors.ConfigError(
          f"ab.pairs entry '{s}:{t}' maps height {h} to {height}; expected the "
          'student map at least as high as the teacher map, or half as high '
          "(RepDistiller's ConvReg)")


METHOD = base.register(base.Method(
    'ab', ce.loss_with_term, keys=KEYS, stages=(INIT_STAGE,),
    features=lambda config, options: ((), ()), check_features=_check_features))
