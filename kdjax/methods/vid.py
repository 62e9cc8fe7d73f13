"""Variational information distillation (Ahn et al., "Variational Information
Distillation for Knowledge Transfer", CVPR 2019; code: RepDistiller
`distiller_zoo/VID.py`, from the authors' code, and its `train_student.py`).

For each pair (student map s, teacher map t, `vid.pairs`), a regressor mu
(three 1x1 convolutions without bias, mid = out = the teacher's channels,
ReLU between) and a per-channel variance sigma_c^2 = softplus(alpha_c) + eps
model q(t | s) as a Gaussian; the student minimises its negative log-
likelihood (paper eq. 6, up to the constant 0.5 log 2 pi):

  CE(s, y) + beta * sum_pairs mean_{b,h,w,c} 0.5 * ((t - mu(s))^2 / sigma_c^2
                                                   + log sigma_c^2)

with the code's eps = 1e-5 and alpha_c initialised so that sigma_c^2 = 5
(`init_pred_var`). Where the two maps differ in size the code average-pools
the larger one to the smaller's (`F.adaptive_avg_pool2d`); kdjax does the same
where one size divides the other and refuses other pairs (`pairs.check`).
The regressors and variances are the method's parts (`Method.head`), trained
with the student by its optimizer, as RepDistiller trains them
(`trainable_list.append(criterion_kd)`). The reference's CIFAR-100 setting is
`-r 1 -a 0 -b 1`: CE weight 1, no KD term, beta = 1 (scripts/
run_cifar_distill.sh); kdjax's defaults are those.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs
from kdjax.models import layers

EPS = 1e-5
WEIGHT = base.number('vid.weight', 1.0, 'beta of the VID term', low=0, symbol='β')
INIT_VAR = base.number('vid.init_variance', 5.0,
                       "initial sigma^2 of every channel (the code's init_pred_var)",
                       low=EPS, low_open=True)
PAIRS = pairs.key('vid.pairs', help="stages paired, as 'student_feature:teacher_feature' "
                  '(the larger map is average-pooled to the smaller one)')


class Regressors(nn.Module):
  """The method's parts: per pair i, mean_i = mu_i(pooled student map) and
  log_scale_i (alpha_c, [C_t]). `pairs`: ((student feature, (h, w) the pair
  compares at, teacher channels), ...)."""
  pairs: tuple
  init_variance: float = 5.0
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, features):
    init = layers.scheme(self.param_init)
    out = {}
    for i, (name, size, channels) in enumerate(self.pairs):
      h = pairs.pool_to(features[name].astype(jnp.float32), size)
      for j in range(3):
        h = layers.conv(channels, (1, 1), init=init, use_bias=False,
                        name=f'pair{i}_conv{j}')(h)
        if j < 2:
          h = nn.relu(h)
      alpha = float(np.log(np.exp(self.init_variance - EPS) - 1.0))
      out[f'mean_{i}'] = h
      out[f'log_scale_{i}'] = self.param(
          f'pair{i}_log_scale', lambda rng, c=channels: jnp.full((c,), alpha, jnp.float32))
    return out


def vid_nll(mean, log_scale, target):
  """mean_{b,h,w,c} 0.5 ((t - mu)^2 / sigma_c^2 + log sigma_c^2), sigma_c^2 =
  softplus(alpha_c) + eps; mean and target [B, h, w, C], log_scale [C]."""
  variance = jax.nn.softplus(log_scale) + EPS
  target = jax.lax.stop_gradient(target.astype(jnp.float32))
  return jnp.mean(0.5 * (jnp.square(mean - target) / variance + jnp.log(variance)))


def loss(student, teacher, labels, hparams, *, teacher_features):
  parts = student[1]['method']
  nll = 0.0
  for i, t in enumerate(teacher_features):
    mean = parts[f'mean_{i}']
    nll = nll + vid_nll(mean, parts[f'log_scale_{i}'],
                        pairs.pool_to(teacher[1][t], mean.shape[1:3]))
  ce, vid = losses.cross_entropy(student[0], labels), hparams['weight'] * nll
  return ce + vid, {'ce': ce, 'vid': vid}


def _sizes(config, student, teacher):
  """(student feature, (h, w) compared at, teacher channels) per pair."""
  out = []
  for s, t in pairs.parse(config.vid.pairs):
    s_hw, t_shape = tuple(student[s].shape[1:3]), teacher[t].shape
    out.append((s, min(s_hw, tuple(t_shape[1:3])), int(t_shape[3])))
  return tuple(out)


def _head(config, student, teacher):
  return Regressors(_sizes(config, student, teacher), float(config.vid.init_variance),
                    config.model.get('param_init', 'flax'))


def _teacher_features(configs):
  return {'teacher_features': tuple(t for _, t in pairs.parse(configs[0].vid.pairs))}


def _describe(config, parts):
  """Each pair's learned variance sigma^2, mean over its channels."""
  count = len(config.vid.pairs)
  return {f'variance_{i}': float(np.mean(
      jax.nn.softplus(np.asarray(parts[f'pair{i}_log_scale'])) + EPS)) for i in range(count)}


METHOD = base.register(base.Method(
    'vid', loss, keys=(WEIGHT, INIT_VAR, PAIRS), hparams={'weight': WEIGHT.path},
    options=_teacher_features,
    features=lambda config, options: (
        tuple(s for s, _ in pairs.parse(config.vid.pairs)), options['teacher_features']),
    check_features=lambda config, student, teacher: pairs.check(
        config, 'vid.pairs', student, teacher, pool=True),
    head=_head, describe_parts=_describe))
