"""Factor transfer (Kim, Park & Kwak, "Paraphrasing Complex Network: Network
Compression via Factor Transfer", NeurIPS 2018), as RepDistiller implements
it.

Reference code followed: RepDistiller (`distiller_zoo/FT.py`,
`models/util.py` `Paraphraser` and `Translator`, `helper/pretrain.py`
`init`, `train_student.py`; its command `--distill factor -a 0 -b 200`).
Two stages:

- `paraphraser`: an autoencoder on the teacher's map `ft.teacher_layer`
  [B, H, W, C]: encoder conv3x3 (C -> C -> kC -> kC, k = 0.5), decoder
  transposed conv3x3 (kC -> kC -> C -> C), each followed by LeakyReLU(0.1),
  no BatchNorm (its `use_bn=False`), trained alone for `ft.init_epochs`
  (30) epochs to reconstruct the map, MSE, by constant SGD (momentum 0.9,
  L2 5e-4) at the student's rate, or 0.01 for RepDistiller's ResNet and WRN
  students (`helper/pretrain.py`; the default key 0.05, the CIFAR-100
  benchmark config sets it per student). The student does not train in it.
- the main run: a translator on the student's map `ft.student_layer`
  (conv3x3 c -> c -> kC -> kC, each with BatchNorm on the batch's
  statistics and LeakyReLU(0.1): its `use_bn=True`, the method's trainable
  parts) against the paraphraser's encoder on the teacher's map (frozen
  since its stage: the method's state), with the factors
  F(x) = normalise(mean_c x^2) [B, H*W]:

  CE + beta * mean |F(T(s)) - F(P(t))|,   beta = 200

  (the larger map average-pooled to the smaller's size first). Paper and
  code agree; the paraphraser and translator widths are the code's.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import losses
from kdjax import optim
from kdjax.methods import base
from kdjax.methods import pairs
from kdjax.models import layers

WEIGHT = base.number('ft.weight', 200.0, 'beta of the factor term', low=0, symbol='β')
RATE = 0.5  # the paraphraser's rate k (RepDistiller's default)
KEYS = (
    WEIGHT,
    base.Key('ft.student_layer', 'block_1', "the student's map the translator reads "
             "(RepDistiller: `feat[-2]`, the last before pooling)"),
    base.Key('ft.teacher_layer', 'block_2', "the teacher's map the paraphraser reads"),
    base.integer('ft.init_epochs', 30, 'epochs of the paraphraser stage'),
    base.optimizer_key('ft.init_optimizer',
                       optim.config('sgd', 0.05, weight_decay=5e-4, momentum=0.9),
                       'optimizer of the paraphraser stage (keys as optimizer.*; '
                       "RepDistiller: its CIFAR run's SGD at the student's rate, 0.01 for "
                       'ResNet/WRN students)'),
)
# RepDistiller's helper/pretrain.py: the students whose paraphraser trains at 0.01.
_SLOW_PARAPHRASER = ('resnet8', 'resnet14', 'resnet20', 'resnet32', 'resnet44', 'resnet56',
                     'resnet110', 'resnet8x4', 'resnet32x4', 'wrn_16_1', 'wrn_16_2',
                     'wrn_40_1', 'wrn_40_2')


def _leaky(x):
  return nn.leaky_relu(x, 0.1)


class Paraphraser(nn.Module):
  """RepDistiller's Paraphraser (`use_bn=False`) on the teacher's map `layer`
  [B, H, W, C], as the stage's head: {'target': t, 'reconstruction'}."""
  channels: int  # the teacher's C
  layer: str
  param_init: str = 'flax'
  reads_teacher = True  # called on the teacher's features (models.parts)

  @nn.compact
  def __call__(self, student, teacher):
    del student  # the paraphraser reads the teacher only
    init = layers.scheme(self.param_init)
    c, k = self.channels, int(self.channels * RATE)
    x = teacher[self.layer].astype(jnp.float32)
    rec = x
    for i, width in enumerate((c, k, k)):
      rec = _leaky(layers.conv(width, (3, 3), padding=((1, 1), (1, 1)), init=init,
                               name=f'enc_{i}')(rec))
    for i, width in enumerate((k, c, c)):
      # ConvTranspose2d(3, 1, 1): torch's fan_in is its out_channels * 9.
      rec = _leaky(nn.ConvTranspose(width, (3, 3), padding=((1, 1), (1, 1)),
                                    transpose_kernel=True, name=f'dec_{i}',
                                    **layers.initializers(init, width * 9))(rec))
    return {'target': x, 'reconstruction': rec}


def encode(params, x):
  """The paraphraser's encoder (its trained `params`) on teacher maps: the factor."""
  for i in range(3):
    p = params[f'enc_{i}']
    x = _leaky(nn.Conv(p['kernel'].shape[-1], (3, 3), padding=((1, 1), (1, 1))).apply(
        {'params': p}, x))
  return x


class Translator(nn.Module):
  """RepDistiller's Translator (`use_bn=True`): student maps [B, h, w, c] to
  [B, h, w, kC] (the method's parts)."""
  channels: int  # the teacher's C
  layer: str
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, features):
    init = layers.scheme(self.param_init)
    x = features[self.layer].astype(jnp.float32)
    c, k = x.shape[-1], int(self.channels * RATE)
    for i, width in enumerate((c, k, k)):
      x = layers.conv(width, (3, 3), padding=((1, 1), (1, 1)), init=init, name=f'conv_{i}')(x)
      x = _leaky(layers.batch_statistics_norm(self, x, f'bn_{i}'))
    return {'factor_input': x}


def factor(x):
  """F(x) = normalise(mean over channels of x^2) [B, H*W] (F.normalize's eps)."""
  f = jnp.mean(jnp.square(x), axis=-1).reshape(x.shape[0], -1)
  return f / jnp.maximum(jnp.sqrt(jnp.sum(f * f, axis=1, keepdims=True)), 1e-12)


def factor_loss(f_s, f_t):
  """mean |F(f_s) - F(f_t)| of maps [B, h, w, *], the larger pooled first."""
  size = min(f_s.shape[1:3], f_t.shape[1:3])
  return jnp.mean(jnp.abs(factor(pairs.pool_to(f_s, size)) -
                          factor(pairs.pool_to(f_t, size))))


def _stage_loss(student, teacher, labels, hparams):
  del teacher, labels, hparams  # the head read the teacher
  parts = student[1]['method']
  rec = jnp.mean(jnp.square(parts['reconstruction'] - parts['target']))
  return rec, {'reconstruction': rec}


def _stage_head(config, student, teacher):
  del student
  return Paraphraser(teacher[config.ft.teacher_layer].shape[-1], config.ft.teacher_layer,
                     config.model.get('param_init', 'flax'))


PARAPHRASER_STAGE = base.Stage(
    'paraphraser', 'ft.init_epochs', 'ft.init_optimizer',
    lambda config: base.Objective('ft_paraphraser', _stage_loss, (config.ft.teacher_layer,)),
    head=_stage_head, trainable=lambda config, student: set(),
    benchmark_learning_rate=lambda student: 0.01 if student in _SLOW_PARAPHRASER else None)


def loss(student, teacher, labels, hparams, *, state, context, teacher_layer):
  """(CE + beta * factor loss, {'ce', 'ft'}, the state unchanged)."""
  del context  # unused
  ce = losses.cross_entropy(student[0], labels)
  target = jax.lax.stop_gradient(encode(state['paraphraser'],
                                        teacher[1][teacher_layer].astype(jnp.float32)))
  ft = hparams['weight'] * factor_loss(student[1]['method']['factor_input'], target)
  return ce + ft, {'ce': ce, 'ft': ft}, state


def _state(config, labels, student, teacher, rng, *, stage_parts, **_):
  """The paraphraser trained in its stage (frozen in the main run)."""
  del config, labels, student, teacher, rng
  # (ft.init_epochs = 0: the stage's initial paraphraser, untrained.)
  return {'paraphraser': stage_parts['paraphraser']}


def _head(config, student, teacher):
  del student
  return Translator(teacher[config.ft.teacher_layer].shape[-1], config.ft.student_layer,
                    config.model.get('param_init', 'flax'))


def _check_features(config, student, teacher):
  for name, shapes, who in ((config.ft.student_layer, student, 'student'),
                            (config.ft.teacher_layer, teacher, 'teacher')):
    if len(shapes[name].shape) != 4:
      raise errors.ConfigError(
          f"ft.{who}_layer={name!r} is {shapes[name].shape[1:]}; expected a feature map "
          f'[H, W, C] from {sorted(k for k, v in shapes.items() if len(v.shape) == 4)}')


METHOD = base.register(base.Method(
    'ft', loss, keys=KEYS, hparams={'weight': WEIGHT.path},
    options=lambda configs: {'teacher_layer': configs[0].ft.teacher_layer},
    features=lambda config, options: ((config.ft.student_layer,), (config.ft.teacher_layer,)),
    check_features=_check_features, head=_head, state=_state,
    stages=(PARAPHRASER_STAGE,)))
