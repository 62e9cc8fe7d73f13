"""Vanilla knowledge distillation (Hinton et al.; comparison study eqs. 1-2).

With `distill.logit_standardize` (Sun et al. 2024, `standardize.py`) the soft
term compares standardised logits and is weighted by
`distill.standardized_kd_weight` instead of 1 - alpha, as the reference's KD
(ce_weight * CE + kd_weight * T^2 * KL with CE 1, KD 9, T 2 under
`--logit-stand`; alpha is its CE weight).
"""

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import standardize

TEMPERATURE = base.number(
    'distill.temperature', 20.0,
    'T of the softened distributions (KD, FitNets stage 2)', low=0,
    low_open=True, symbol='T')
ALPHA = base.number(
    'distill.alpha', 0.1,
    'weight of the hard-label cross-entropy; 1 - alpha weighs T^2 KL',
    low=0, high=1, symbol='α')
KEYS = (TEMPERATURE, ALPHA)
HPARAMS = {'temperature': TEMPERATURE.path, 'alpha': ALPHA.path}
LS_WEIGHT = base.number(
    'distill.standardized_kd_weight', 9.0,
    "weight of KD's T^2 KL term under distill.logit_standardize (replaces "
    "1 - alpha; the reference's --kd-weight)", low=0)


def kd_terms(student_logits, teacher_logits, labels, *, temperature, alpha,
             kd_weight=None, standardize_logits=False):
  """{'ce': a*CE(s, y), 'kd': (1-a)*T^2*KL(p_t^T || p_s^T)}: `kd_loss`'s terms."""
  soft = losses.kl_divergence(standardize.maybe(teacher_logits, standardize_logits),
                              standardize.maybe(student_logits, standardize_logits),
                              temperature)
  weight = 1.0 - alpha if kd_weight is None else kd_weight
  return {'ce': alpha * losses.cross_entropy(student_logits, labels),
          'kd': weight * temperature**2 * soft}


def kd_loss(student_logits, teacher_logits, labels, **kwargs):
  """Hinton KD, study eqs. (1)-(2): a*CE(s, y) + (1-a)*T^2*KL(p_t^T || p_s^T).

  The T^2 factor keeps the soft term's gradient, (1-a)*T*(p_s^T - p_t^T)/B
  w.r.t. the student logits, on the scale of the hard term's. Keywords as
  `kd_terms`: temperature, alpha; `kd_weight` replaces 1 - a;
  `standardize_logits` compares Z(z_s) with Z(z_t).
  """
  terms = kd_terms(student_logits, teacher_logits, labels, **kwargs)
  return terms['ce'] + terms['kd']


def loss(student, teacher, labels, hparams, standardize=False):
  terms = kd_terms(student[0], teacher[0], labels,
                   temperature=hparams['temperature'], alpha=hparams['alpha'],
                   kd_weight=hparams['kd_weight'] if standardize else None,
                   standardize_logits=standardize)
  return terms['ce'] + terms['kd'], terms


METHOD = base.register(base.Method(
    'kd', loss, keys=KEYS + (standardize.STANDARDIZE, LS_WEIGHT),
    hparams={**HPARAMS, 'kd_weight': LS_WEIGHT.path}, options=standardize.option))
