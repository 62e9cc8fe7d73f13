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

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs

WEIGHT = base.number('at.weight', 1000.0, 'beta of the attention term', low=0,
                     symbol='β')
P = base.number('at.p', 2.0, 'exponent p of the attention map mean_c |A|^p',
                low=0, low_open=True, symbol='p')


PAIRS = pairs.key('at.pairs', help="stages paired, as 'student_feature:teacher_feature' "
                 '(feature maps of equal height and width)')


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
  ce, at = losses.cross_entropy(student[0], labels), hparams['weight'] * total
  return ce + at, {'ce': ce, 'at': at}


METHOD = base.register(base.Method(
    'at', loss, keys=(WEIGHT, P, PAIRS), hparams={'weight': WEIGHT.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].at.pairs), 'p': float(configs[0].at.p)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=lambda config, student, teacher: pairs.check(
        config, 'at.pairs', student, teacher)))
