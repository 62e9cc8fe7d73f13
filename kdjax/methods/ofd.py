"""Overhaul of feature distillation (Heo, Kim, Yun, Park, Kwak & Choi, "A
Comprehensive Overhaul of Feature Distillation", ICCV 2019), as mdistiller
implements it.

Reference code followed: mdistiller (`mdistiller/distillers/OFD.py`, after
the authors' clovaai/overhaul-distillation; `engine/cfg.py`: CE weight 1,
feature weight 0.001, 1x1 connectors). The student's pre-activation stage
outputs (`ofd.pairs`, each before its last ReLU: `preact_s` of the ResNets)
pass through a connector each (conv k x k without bias, weights normal with
std sqrt(2 / (k^2 C_t)), then BatchNorm on the batch's statistics: the
method's parts); the teacher's pre-activation map, average-pooled to the
student's size, is the target t; per teacher channel, the margin m is the
expectation of the BatchNorm before that ReLU's negative responses, for its
output N(beta, gamma^2) (the BN's bias and |scale|):

  m = beta - |gamma| phi(beta / |gamma|) / Phi(-beta / |gamma|)   (Phi(-beta/|gamma|) > 0.001)
  m = -3 |gamma|                                                  (otherwise)

and the partial L2 distance of each pair (mean over the batch, sum over the rest):

  d(s, t) = (s - m)^2 [s > m, t <= m] + (s - t)^2 [s > t, m < t <= 0] + (s - t)^2 [t > 0],

the objective CE + w * sum_i d_i / 2^(n - 1 - i), w = 0.001 (the deepest pair
weight 1, each shallower half the next). The margins are computed once from
the teacher's variables (the method's state, constant). The teacher's maps
are computed in train mode, its BatchNorms on the batch's statistics, as
mdistiller's `OFD.train()` switches the teacher to train() with the student
(`teacher_train`; so no teacher cache). The teacher must
have a BatchNorm before each paired ReLU (`bn_before_relu`: the ResNets);
other teachers are refused in one line.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from kdjax import errors
from kdjax import losses
from kdjax import models
from kdjax.methods import base
from kdjax.methods import pairs
from kdjax.models import layers

WEIGHT = base.number('ofd.weight', 0.001, 'weight of the distillation term (FEAT_WEIGHT)',
                     low=0, symbol='w')
KERNEL = base.integer('ofd.kernel_size', 1, 'kernel size of the connectors (odd)', low=1,
                      odd=True)
PAIRS = pairs.key('ofd.pairs', help="pre-activation stage outputs paired, shallow to deep, "
                  "as 'student_feature:teacher_feature'")


def margins(gamma, beta):
  """Per channel: E[x | x < 0] of x ~ N(beta, |gamma|^2) where P(x < 0) > 0.001,
  else -3 |gamma| (mdistiller's `init_ofd_modules`)."""
  from scipy import stats  # pylint: disable=g-import-not-at-top  (here: ~1 s off every CLI start)
  s, m = np.abs(np.asarray(gamma, np.float64)), np.asarray(beta, np.float64)
  cdf = stats.norm.cdf(-m / s)
  with np.errstate(divide='ignore', invalid='ignore'):
    expected = -s * np.exp(-((m / s) ** 2) / 2) / np.sqrt(2 * np.pi) / cdf + m
  return np.where(cdf > 0.001, expected, -3 * s).astype(np.float32)


def ofd_distance(source, target, margin):
  """d(s, t) of one pair: mean over the batch, sum over the rest."""
  target = jax.lax.stop_gradient(target)
  loss = (jnp.square(source - margin) * ((source > margin) & (target <= margin)) +
          jnp.square(source - target) * ((source > target) & (target > margin) & (target <= 0)) +
          jnp.square(source - target) * (target > 0))
  return jnp.sum(jnp.mean(jnp.abs(loss), axis=0))


def _normal_fan_out(key, shape, dtype=jnp.float32):
  """normal(0, sqrt(2 / (kh kw C_out))) of an HWIO kernel (the connectors' init)."""
  return jax.random.normal(key, shape, dtype) * np.sqrt(2.0 / (shape[0] * shape[1] * shape[3]))


class Connectors(nn.Module):
  """Each paired student map to its teacher's channels ('pair_<i>')."""
  pairs: tuple
  channels: tuple
  kernel_size: int = 1

  @nn.compact
  def __call__(self, features):
    out = {}
    k = self.kernel_size
    for i, ((s, _), c) in enumerate(zip(self.pairs, self.channels)):
      x = nn.Conv(c, (k, k), padding=(((k - 1) // 2,) * 2,) * 2, use_bias=False,
                  kernel_init=_normal_fan_out, name=f'conv_{i}')(
                      features[s].astype(jnp.float32))
      out[f'pair_{i}'] = layers.batch_statistics_norm(self, x, f'bn_{i}')
    return out


_pool = pairs.pool_to  # F.adaptive_avg_pool2d for sizes that divide (`pairs` is shadowed below)


def loss(student, teacher, labels, hparams, *, state, context, pairs):
  """(CE + w * sum_i d_i / 2^(n-1-i), {'ce', 'ofd'}, the state unchanged)."""
  del context  # unused
  ce = losses.cross_entropy(student[0], labels)
  n, total = len(pairs), 0.0
  for i, (_, t) in enumerate(pairs):
    source = student[1]['method'][f'pair_{i}']
    target = _pool(teacher[1][t].astype(jnp.float32), source.shape[1:3])
    total = total + ofd_distance(source, target, state['margins'][i]) / 2 ** (n - 1 - i)
  ofd = hparams['weight'] * total
  return ce + ofd, {'ce': ce, 'ofd': ofd}, state


def _teacher_model(config):
  return models.create(config.teacher.model, 10)


def _state(config, labels, student, teacher, rng, *, teacher_variables, **_):
  """The margins [C_t] of each pair, from the teacher's BatchNorms."""
  del labels, student, teacher, rng
  model, params = _teacher_model(config), jax.device_get(teacher_variables['params'])
  out = []
  for _, t in pairs.parse(config.ofd.pairs):
    block, bn = model.bn_before_relu(t)
    out.append(margins(params[block][bn]['scale'], params[block][bn]['bias']))
  return {'margins': tuple(jnp.asarray(m) for m in out)}


def _head(config, student, teacher):
  del student
  chain = pairs.parse(config.ofd.pairs)
  return Connectors(chain, tuple(teacher[t].shape[-1] for _, t in chain),
                    config.ofd.kernel_size)


def _check_features(config, student, teacher):
  """Pairs of maps whose sizes the pooling divides; a teacher with a
  BatchNorm before each paired ReLU."""
  pairs.check(config, PAIRS.path, student, teacher, pool=True)
  for s, t in pairs.parse(config.ofd.pairs):
    if any(a < b for a, b in zip(teacher[t].shape[1:3], student[s].shape[1:3])):
      raise errors.ConfigError(
          f"ofd.pairs entry '{s}:{t}' pairs a {tuple(student[s].shape[1:3])} student map "
          f'with a smaller {tuple(teacher[t].shape[1:3])} teacher map; expected the '
          "teacher's at least as large (it is pooled to the student's)")
  model = _teacher_model(config)
  for _, t in pairs.parse(config.ofd.pairs):
    if not hasattr(model, 'bn_before_relu') or not t.startswith('preact_'):
      raise errors.ConfigError(
          f"method=ofd reads the margins of the BatchNorm before the teacher's ReLU at "
          f'{t!r}, which teacher.model.name={config.teacher.model.name!r} does not have; '
          "expected a ResNet teacher ('resnet', 'resnet_cifar') and its 'preact_<stage>' maps")


METHOD = base.register(base.Method(
    'ofd', loss, keys=(WEIGHT, KERNEL, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].ofd.pairs)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=_check_features, head=_head, state=_state, teacher_train=True))
