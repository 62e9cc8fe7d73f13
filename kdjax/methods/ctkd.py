"""Curriculum temperature KD (Li et al., "Curriculum Temperature for
Knowledge Distillation", AAAI 2023; code: zhengli97/CTKD, global temperature):
vanilla KD whose temperature is learned adversarially.

The temperature is tau = t_min + t_range * sigmoid(theta), theta a trainable
scalar of the method (initialised to 1, as the code's `Global_T`), trained
with the student by its optimizer through a gradient-reversal layer: the
student descends the KD loss, theta ascends it with strength lambda(epoch),

  loss = alpha * CE(s, y) + (1 - alpha) * tau^2 * KL(p_t^tau || p_s^tau)
  d loss / d theta is multiplied by -lambda(epoch),
  lambda(e) = lambda_max * (1 - cos(pi * min(e, E) / E)) / 2,

a cosine ramp from 0 to lambda_max over E = `ctkd.lambda_epochs` epochs (1-based
epochs, constant within one). theta is trained by SGD (`ctkd.optimizer`: the
reference trains it with the student's SGD, lr 0.05, momentum 0.9, weight
decay 5e-4, and its step schedule, which the CIFAR-100 benchmark config
copies: `benchmark`; the key's default is that SGD at a constant rate, for
runs whose student trains by Adam): under Adam, which divides each step by
the gradient's running scale, lambda would only set the sign of theta's
steps, not their size. The code's `CosineDecay(max=0, min=-1, loops=10)` gives the reversal factor -lambda directly; its run script's
defaults are t_min = 1, t_range = 20 ('t_start', 't_end'), lambda_max = 1,
E = 10 of 240 epochs, alpha = 0.1 (`-r 0.1 -a 0.9`). The trained temperature
is reported in metrics.json (`method_parts`), its epoch mean in the history
(`train_temperature`).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from kdjax import optim
from kdjax.methods import base
from kdjax.methods import kd

T_MIN = base.number('ctkd.temperature_min', 1.0,
                    'lowest temperature (the code: t_start)', low=0, low_open=True,
                    symbol='τmin')
T_RANGE = base.number('ctkd.temperature_range', 20.0,
                      'tau = temperature_min + temperature_range * sigmoid(theta) '
                      '(the code: t_end)', low=0, low_open=True, symbol='τrange')
LAMBDA_MAX = base.number('ctkd.lambda_max', 1.0,
                         'strength of the gradient reversal once ramped up', low=0,
                         symbol='λ')
LAMBDA_EPOCHS = base.number('ctkd.lambda_epochs', 10.0,
                            'epochs of the cosine ramp of lambda (0 = none; the '
                            'code: 10 of 240)', low=0, symbol='ramp')


OPTIMIZER = base.optimizer_key(
    'ctkd.optimizer', optim.config('sgd', 0.05, weight_decay=5e-4, momentum=0.9),
    "optimizer of the temperature's parameter theta (keys as optimizer.*)")


class Temperature(nn.Module):
  """The method's part: theta, initialised to 1 (the code's `Global_T`)."""

  @nn.compact
  def __call__(self, features):
    del features  # unused: a global temperature
    return {'temperature_logit': self.param(
        'temperature_logit', lambda rng: jnp.ones((), jnp.float32))}


@jax.custom_vjp
def reverse_gradient(x, strength):
  """Identity forward; multiplies the gradient by -strength (Ganin & Lempitsky)."""
  del strength  # unused forward
  return x


def _reverse_fwd(x, strength):
  return x, strength


def _reverse_bwd(strength, g):
  return -strength * g, jnp.zeros_like(strength)


reverse_gradient.defvjp(_reverse_fwd, _reverse_bwd)


def reversal_strength(epoch, lambda_max, lambda_epochs):
  """lambda(epoch): a cosine ramp from 0 to lambda_max over lambda_epochs."""
  progress = jnp.where(lambda_epochs > 0,
                       jnp.minimum(epoch / jnp.maximum(lambda_epochs, 1e-9), 1.0), 1.0)
  return lambda_max * (1.0 - jnp.cos(jnp.pi * progress)) / 2.0


def temperature(theta, t_min, t_range):
  """tau = t_min + t_range * sigmoid(theta)."""
  return t_min + t_range * jax.nn.sigmoid(theta)


def ctkd_terms(student_logits, teacher_logits, labels, theta, *, alpha, t_min,
               t_range, strength):
  """KD's terms at the learned temperature, theta's gradient reversed by
  `strength`, and the temperature itself ('temperature', a value monitored
  per epoch, not a loss term)."""
  tau = temperature(reverse_gradient(theta, strength), t_min, t_range)
  return {**kd.kd_terms(student_logits, teacher_logits, labels, temperature=tau,
                        alpha=alpha),
          'temperature': jax.lax.stop_gradient(tau)}


def ctkd_loss(student_logits, teacher_logits, labels, theta, **kwargs):
  """KD at the learned temperature (keywords as `ctkd_terms`)."""
  terms = ctkd_terms(student_logits, teacher_logits, labels, theta, **kwargs)
  return terms['ce'] + terms['kd']


def loss(student, teacher, labels, hparams):
  strength = reversal_strength(hparams['epoch'], hparams['lambda_max'],
                               hparams['lambda_epochs'])
  terms = ctkd_terms(student[0], teacher[0], labels,
                     student[1]['method']['temperature_logit'], alpha=hparams['alpha'],
                     t_min=hparams['t_min'], t_range=hparams['t_range'],
                     strength=strength)
  return terms['ce'] + terms['kd'], terms


def _describe(config, parts):
  theta = float(parts['temperature_logit'])
  return {'temperature': float(temperature(theta, config.ctkd.temperature_min,
                                           config.ctkd.temperature_range)),
          'temperature_logit': theta}


def _benchmark(config):
  """The reference trains theta in the student's own SGD, schedule included
  (`trainable_list` under `adjust_learning_rate`: /10 at 150, 180, 210)."""
  config.ctkd.optimizer = config.optimizer.copy_and_resolve_references()


METHOD = base.register(base.Method(
    'ctkd', loss, keys=(kd.ALPHA, T_MIN, T_RANGE, LAMBDA_MAX, LAMBDA_EPOCHS, OPTIMIZER),
    hparams={'alpha': kd.ALPHA.path, 't_min': T_MIN.path, 't_range': T_RANGE.path,
             'lambda_max': LAMBDA_MAX.path, 'lambda_epochs': LAMBDA_EPOCHS.path},
    head=lambda config, student, teacher: Temperature(), describe_parts=_describe,
    parts_optimizer=lambda config: config.ctkd.optimizer, benchmark=_benchmark))
