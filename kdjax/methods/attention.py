"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017): the student
matches the teacher's spatial attention maps at paired stages.

For a feature map A [B, H, W, C], the attention map is Q = mean_c |A_c|^p,
flattened to [B, H*W] and L2-normalised (paper eq. 2 with F^p_mean; the
mean differs from the sum by a constant that the normalisation removes).
The paper (eq. 2) writes the attention term as beta / 2 * sum_j
|Q_s^j / |Q_s^j| - Q_t^j / |Q_t^j||_2 per example; the authors' code
(attention-transfer, cifar.py and imagenet.py: `opt.beta * sum(loss_groups)`,
each group `(at(x) - at(y)).pow(2).mean()`), RepDistiller and mdistiller all
add beta (not beta / 2) times the mean squared difference. kdjax follows the
code:

  CE(s, y) + beta * sum_j mean_{b, i} (Q_s^j / |Q_s^j| - Q_t^j / |Q_t^j|)^2

with the code's beta = 1000, per pair j (`at.pairs`:
'student_feature:teacher_feature' of equal spatial size).
"""

import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import losses
from kdjax.methods import base

WEIGHT = base.number('at.weight', 1000.0, 'beta of the attention term', low=0,
                     symbol='β')
P = base.number('at.p', 2.0, 'exponent p of the attention map mean_c |A|^p',
                low=0, low_open=True, symbol='p')


def _valid_pairs(value):
  return isinstance(value, (tuple, list)) and all(
      isinstance(v, str) and v.count(':') == 1 and all(v.split(':')) for v in value)


PAIRS = base.Key('at.pairs', (), "stages paired, as 'student_feature:teacher_feature' "
                 '(feature maps of equal height and width)', _valid_pairs,
                 "a tuple of 'student_feature:teacher_feature' strings")


def attention_map(features, p=2.0):
  """L2-normalised mean_c |A|^p of feature maps [B, H, W, C]: [B, H*W]."""
  a = jnp.mean(jnp.abs(features.astype(jnp.float32)) ** p, axis=-1)
  a = a.reshape(a.shape[0], -1)
  norm = jnp.sqrt(jnp.maximum(jnp.sum(a * a, axis=-1, keepdims=True), 1e-24))
  return a / norm  # F.normalize's x / max(|x|, 1e-12)


def attention_loss(student_features, teacher_features, p=2.0):
  """Mean over batch and positions of the squared map difference (one pair)."""
  return jnp.mean(jnp.square(
      attention_map(student_features, p)
      - jax.lax.stop_gradient(attention_map(teacher_features, p))))


def loss(student, teacher, labels, hparams, *, pairs, p):
  total = sum(attention_loss(student[1][s], teacher[1][t], p) for s, t in pairs)
  return losses.cross_entropy(student[0], labels) + hparams['weight'] * total


def _pairs(config):
  return tuple(tuple(pair.split(':')) for pair in config.at.pairs)


def _check_features(config, student, teacher):
  """Every pair names two 4-D feature maps of the same height and width."""
  maps = lambda shapes: {k: tuple(v.shape[1:3]) for k, v in shapes.items()
                         if len(v.shape) == 4}
  s_maps, t_maps = maps(student), maps(teacher)
  if not s_maps or not t_maps:
    raise errors.ConfigError(
        f'method=at needs spatial feature maps [B, H, W, C] in both models; the '
        f'{"student" if not s_maps else "teacher"} ({config.model.name if not s_maps else config.teacher.model.name}) '
        'has none; expected convolutional models')
  offer = (f"student maps {dict(sorted(s_maps.items()))}, teacher maps "
           f"{dict(sorted(t_maps.items()))}")
  if not config.at.pairs:
    raise errors.ConfigError(
        f"at.pairs=() names no stages; expected 'student:teacher' pairs of "
        f'equal spatial size from the {offer}')
  for s, t in _pairs(config):
    if s not in s_maps or t not in t_maps or s_maps[s] != t_maps[t]:
      raise errors.ConfigError(
          f"at.pairs entry '{s}:{t}' " + (
              'does not name a student feature map' if s not in s_maps else
              'does not name a teacher feature map' if t not in t_maps else
              f'pairs {s_maps[s]} with {t_maps[t]} (height, width)') +
          f'; expected maps of equal spatial size from the {offer}')


METHOD = base.register(base.Method(
    'at', loss, keys=(WEIGHT, P, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': _pairs(configs[0]), 'p': float(configs[0].at.p)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=_check_features))
