"""Knowledge review (Chen, Liu, Zhao & Jia, "Distilling Knowledge via
Knowledge Review", CVPR 2021), as mdistiller implements it.

Reference code followed: mdistiller (`mdistiller/distillers/ReviewKD.py`,
by the paper's authors; `engine/cfg.py`: CE weight 1, ReviewKD weight 1,
20 warm-up epochs, mid channels min(512, the deepest student channels)).
The student's features of `reviewkd.pairs` (shallow to deep; a vector
[B, D] is a 1x1 map) are reviewed from the deepest: an attention-based
fusion module (ABF) per pair maps student map i to its teacher map's
channels and size,

  x_i = BN(conv1x1(s_i))                              [mid channels]
  x_i = a_0 * x_i + a_1 * up(x_(i+1))   (all but the deepest; a = sigmoid
                                         of a 1x1 conv of [x_i, up(x_(i+1))])
  r_i = BN(conv3x3(resize(x_i)))                      [teacher channels]

(up, resize: torch's nearest interpolation to the student's / the
teacher's size; BatchNorm on the batch's statistics: the modules serve the
loss only, so their running statistics are never read), and the
hierarchical context loss compares r_i with the teacher's map t_i at every
pyramid level l in (4, 2, 1) smaller than the map (average-pooled, weight
1/2 per level):

  HCL = sum_i (MSE(r_i, t_i) + sum_l w_l MSE(pool_l r_i, pool_l t_i)) / (1 + sum_l w_l)

The objective is CE + w * min(epoch / warmup, 1) * HCL. mdistiller's
teachers give their pre-activation stage outputs (`preact_feats[1:]`) and
the pooled feature, the student its post-activation ones (`feats`, its
`STU_PREACT = False`): `configs/cifar10_cnn/reviewkd.py` pairs the study's
student blocks with the teacher's `preact_i` of equal size.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from kdjax import errors
from kdjax import losses
from kdjax.methods import base
from kdjax.methods import pairs
from kdjax.models import layers

WEIGHT = base.number('reviewkd.weight', 1.0, 'weight of the review term (REVIEWKD_WEIGHT)',
                     low=0, symbol='w')
WARMUP = base.number('reviewkd.warmup_epochs', 20.0, "epochs of the term's linear warm-up "
                     '(0: none)', low=0)
PAIRS = pairs.key('reviewkd.pairs', help="features reviewed, shallow to deep, as "
                  "'student_feature:teacher_feature' (maps, or vectors as 1x1 maps)")
MAX_MID = 512  # mdistiller's mid_channel = min(512, in_channels[-1])


def _as_map(x):
  return x.reshape(x.shape[0], 1, 1, -1) if x.ndim == 2 else x


def nearest(x, size):
  """torch's F.interpolate(mode='nearest') of maps [B, H, W, C] to (h, w):
  source index floor(i * H / h)."""
  (h, w), (H, W) = size, x.shape[1:3]
  rows = np.floor(np.arange(h) * H / h).astype(np.int32)
  cols = np.floor(np.arange(w) * W / w).astype(np.int32)
  return x[:, rows][:, :, cols]


def _kaiming_uniform_a1(key, shape, dtype=jnp.float32):
  """nn.init.kaiming_uniform_(w, a=1): U(±sqrt(3 / fan_in)), HWIO kernels."""
  bound = np.sqrt(3.0 / (shape[0] * shape[1] * shape[2]))
  return jax.random.uniform(key, shape, dtype, -bound, bound)


class ABF(nn.Module):
  """One attention-based fusion module: (student map, the deeper result or
  None) -> (this pair's result [B, h_t, w_t, out], its residual). conv1 and
  conv2 are drawn as mdistiller re-draws them (kaiming-uniform, a = 1);
  att_conv, which it leaves at nn.Conv2d's default, as the student's layers
  (`param_init`: PyTorch's default under 'torch', Flax's under 'flax')."""
  mid: int
  out: int
  fuse: bool
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, x, residual, out_size):
    x = nn.Conv(self.mid, (1, 1), use_bias=False, kernel_init=_kaiming_uniform_a1,
                name='conv1')(x)
    x = layers.batch_statistics_norm(self, x, 'bn1')
    if self.fuse:
      residual = nearest(residual, x.shape[1:3])
      z = layers.conv(2, (1, 1), init=layers.scheme(self.param_init), name='att_conv')(
          jnp.concatenate([x, residual], axis=-1))
      z = jax.nn.sigmoid(z)
      x = x * z[..., :1] + residual * z[..., 1:]
    if x.shape[1:3] != tuple(out_size):
      x = nearest(x, out_size)
    y = nn.Conv(self.out, (3, 3), padding=((1, 1), (1, 1)), use_bias=False,
                kernel_init=_kaiming_uniform_a1, name='conv2')(x)
    return layers.batch_statistics_norm(self, y, 'bn2'), x


class Review(nn.Module):
  """The ABFs of every pair, run from the deepest: {'pair_<i>': r_i} (the
  method's parts)."""
  pairs: tuple
  targets: tuple  # each teacher feature's (h, w, c) as a map
  mid: int
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, features):
    out, residual = {}, None
    for i in reversed(range(len(self.pairs))):
      h, w, c = self.targets[i]
      result, residual = ABF(self.mid, c, i < len(self.pairs) - 1, self.param_init,
                             name=f'abf_{i}')(
          _as_map(features[self.pairs[i][0]]).astype(jnp.float32), residual, (h, w))
      out[f'pair_{i}'] = result
    return out


def hcl(results, teacher_maps):
  """The hierarchical context loss over the pairs (lists of [B, h, w, c])."""
  total = 0.0
  for fs, ft in zip(results, teacher_maps):
    ft = jax.lax.stop_gradient(ft).astype(jnp.float32)
    h = fs.shape[1]
    loss, weight, norm = jnp.mean(jnp.square(fs - ft)), 1.0, 1.0
    for level in (4, 2, 1):
      if level >= h:
        continue
      weight /= 2.0
      loss = loss + weight * jnp.mean(jnp.square(
          pairs.pool_to(fs, (level, level)) - pairs.pool_to(ft, (level, level))))
      norm += weight
    total = total + loss / norm
  return total


def loss(student, teacher, labels, hparams, *, pairs):
  """(CE + w * min(epoch / warmup, 1) * HCL, {'ce', 'reviewkd'})."""
  ce = losses.cross_entropy(student[0], labels)
  results = [student[1]['method'][f'pair_{i}'] for i in range(len(pairs))]
  warm = jnp.where(hparams['warmup'] > 0,
                   jnp.minimum(hparams['epoch'] / jnp.maximum(hparams['warmup'], 1e-12), 1.0),
                   1.0)
  term = hparams['weight'] * warm * hcl(results, [_as_map(teacher[1][t]) for _, t in pairs])
  return ce + term, {'ce': ce, 'reviewkd': term}


def _shape(shapes, name):
  """(h, w, c) of a feature as a map (a vector [D] is 1x1xD)."""
  shape = tuple(shapes[name].shape[1:])
  return (1, 1) + shape if len(shape) == 1 else shape


def _head(config, student, teacher):
  chain = pairs.parse(config.reviewkd.pairs)
  targets = tuple(_shape(teacher, t) for _, t in chain)
  deepest = _shape(student, chain[-1][0])[-1]
  return Review(chain, targets, min(MAX_MID, deepest), config.model.get('param_init', 'flax'))


def _check_features(config, student, teacher):
  """Pairs of maps or vectors; each teacher map's size a multiple of 4, 2 or
  1 where pooled (`pairs.pool_to`)."""
  chain = pairs.parse(config.reviewkd.pairs)
  if not chain:
    offer = lambda shapes: sorted(k for k in shapes if k != 'logits')
    raise errors.ConfigError(
        "reviewkd.pairs=() names no layers; expected 'student:teacher' pairs, shallow "
        f'to deep, from the student features {offer(student)} and the teacher features '
        f'{offer(teacher)}')
  for s, t in chain:
    for name, shapes, who in ((s, student, 'student'), (t, teacher, 'teacher')):
      if name == 'logits':
        raise errors.ConfigError(f"reviewkd.pairs entry '{s}:{t}' names the {who}'s "
                                 "logits; expected a feature (the pooled one: 'embedding')")
      if len(shapes[name].shape) not in (2, 4):
        raise errors.ConfigError(f"reviewkd.pairs entry '{s}:{t}': {who} feature "
                                 f'{name!r} is {shapes[name].shape[1:]}; expected a map '
                                 '[H, W, C] or a vector [D]')
    h, w = _shape(teacher, t)[:2]
    for level in (4, 2, 1):
      if level < h and (h % level or w % level):
        raise errors.ConfigError(
            f"reviewkd.pairs entry '{s}:{t}': the teacher map is {h}x{w}, which "
            f'{level}x{level} pooling does not divide; expected sizes divisible by 4')


METHOD = base.register(base.Method(
    'reviewkd', loss, keys=(WEIGHT, WARMUP, PAIRS),
    hparams={'weight': WEIGHT.path, 'warmup': WARMUP.path},
    options=lambda configs: {'pairs': pairs.parse(configs[0].reviewkd.pairs)},
    features=lambda config, options: (tuple(s for s, _ in options['pairs']),
                                      tuple(t for _, t in options['pairs'])),
    check_features=_check_features, head=_head))
