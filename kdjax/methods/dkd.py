"""Decoupled KD (Zhao et al., CVPR 2022): KD split into its target-class
part (TCKD) and non-target-class part (NCKD), weighted apart.

With p = softmax(z / T), the binary b = [p_y, 1 - p_y] and p^ = p / (1 - p_y)
over the classes other than y (paper eqs. 1-5):

  loss = CE(s, y) + w(epoch) * T^2 * (alpha * KL(b_t || b_s) + beta * KL(p^_t || p^_s))

where w(epoch) = min(epoch / warmup_epochs, 1) ramps the distillation terms in
(the authors' code, 1-based epochs; T^2 as in their code). Computed in log
space, so no probability is rounded to 0 and then logged: with
d = (z_y - logsumexp_{j != y} z_j) / T, log b = [log sigmoid(d), log sigmoid(-d)]
(exact to float32 rounding even where p_y rounds to 1, where z_y - logsumexp(z)
would lose all digits: a negative TCKD), log p^ from a log-sum-exp over the
non-target logits.

With `distill.logit_standardize` (`standardize.py`) both terms compare
standardised logits; the reference's `--logit-stand` also multiplies alpha
and beta by 9 and sets T to 2 (`configs/*/dkd_ls.py`).
"""

import jax
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import standardize

ALPHA = base.number('dkd.alpha', 1.0, 'weight of the target-class term TCKD',
                    low=0, symbol='α')
BETA = base.number('dkd.beta', 8.0, 'weight of the non-target-class term NCKD',
                   low=0, symbol='β')
TEMPERATURE = base.number('dkd.temperature', 4.0, 'T of DKD', low=0,
                          low_open=True, symbol='T')
WARMUP = base.number('dkd.warmup_epochs', 20.0,
                     'epochs over which the DKD terms ramp linearly to full '
                     'weight (0 = none; the paper: 20 of 240)', low=0,
                     symbol='warm-up')


def _binary_and_rest(logits, labels, temperature):
  """(log b [B, 2], log p^ [B, C] (0 at the target), target mask [B, C]).

  The target entry is set to 0, not left at z_y - logsumexp(rest): that can
  overflow exp() (a confident teacher), and inf * 0 in the masked gradient is
  NaN."""
  z = logits.astype(jnp.float32) / temperature
  target = jax.nn.one_hot(labels, z.shape[-1], dtype=bool)
  rest = jax.nn.logsumexp(jnp.where(target, -jnp.inf, z), axis=-1)
  d = jnp.sum(jnp.where(target, z, 0.0), axis=-1) - rest  # log(p_y / (1 - p_y))
  log_b = jnp.stack([jax.nn.log_sigmoid(d), jax.nn.log_sigmoid(-d)], axis=-1)
  return log_b, jnp.where(target, 0.0, z - rest[:, None]), target


def dkd_terms(student_logits, teacher_logits, labels, temperature):
  """(TCKD, NCKD): batch means of KL(b_t || b_s) and KL(p^_t || p^_s), nats."""
  s_b, s_rest, target = _binary_and_rest(student_logits, labels, temperature)
  t_b, t_rest, _ = _binary_and_rest(jax.lax.stop_gradient(teacher_logits),
                                    labels, temperature)
  tckd = jnp.sum(jnp.exp(t_b) * (t_b - s_b), axis=-1).mean()
  nckd = jnp.sum(jnp.where(target, 0.0, jnp.exp(t_rest) * (t_rest - s_rest)),
                 axis=-1).mean()
  return tckd, nckd


def dkd_loss(student_logits, teacher_logits, labels, *, alpha, beta,
             temperature, weight=1.0, standardize_logits=False):
  """CE + weight * T^2 * (alpha * TCKD + beta * NCKD); the terms on Z(z)
  with `standardize_logits`, the cross-entropy on the raw logits."""
  return _total_and_terms(student_logits, teacher_logits, labels, alpha=alpha,
                          beta=beta, temperature=temperature, weight=weight,
                          standardize_logits=standardize_logits)[0]


def _total_and_terms(student_logits, teacher_logits, labels, *, alpha, beta,
                     temperature, weight, standardize_logits):
  tckd, nckd = dkd_terms(standardize.maybe(student_logits, standardize_logits),
                         standardize.maybe(teacher_logits, standardize_logits),
                         labels, temperature)
  ce, scale = losses.cross_entropy(student_logits, labels), weight * temperature**2
  return ce + scale * (alpha * tckd + beta * nckd), {
      'ce': ce, 'tckd': scale * alpha * tckd, 'nckd': scale * beta * nckd}


def warmup_weight(epoch, warmup_epochs):
  """min(epoch / warmup_epochs, 1); 1 without a warm-up."""
  return jnp.where(warmup_epochs > 0,
                   jnp.minimum(epoch / jnp.maximum(warmup_epochs, 1e-9), 1.0), 1.0)


def loss(student, teacher, labels, hparams, standardize=False):
  return _total_and_terms(student[0], teacher[0], labels, alpha=hparams['alpha'],
                  beta=hparams['beta'], temperature=hparams['temperature'],
                  weight=warmup_weight(hparams['epoch'], hparams['warmup_epochs']),
                  standardize_logits=standardize)


METHOD = base.register(base.Method(
    'dkd', loss, keys=(ALPHA, BETA, TEMPERATURE, WARMUP, standardize.STANDARDIZE),
    hparams={'alpha': ALPHA.path, 'beta': BETA.path,
             'temperature': TEMPERATURE.path, 'warmup_epochs': WARMUP.path},
    options=standardize.option))
