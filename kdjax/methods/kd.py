"""Vanilla knowledge distillation (Hinton et al.; comparison study eqs. 1-2)."""

from kdjax import losses
from kdjax.methods import base

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

def kd_loss(student_logits, teacher_logits, labels, *, temperature, alpha):
  """Hinton KD, study eqs. (1)-(2): a*CE(s, y) + (1-a)*T^2*KL(p_t^T || p_s^T).

  The T^2 factor keeps the soft term's gradient, (1-a)*T*(p_s^T - p_t^T)/B
  w.r.t. the student logits, on the scale of the hard term's.
  """
  soft = losses.kl_divergence(teacher_logits, student_logits, temperature)
  return alpha * losses.cross_entropy(student_logits, labels) + (
      (1.0 - alpha) * temperature**2 * soft)

def loss(student, teacher, labels, hparams):
  return kd_loss(student[0], teacher[0], labels,
                 temperature=hparams['temperature'], alpha=hparams['alpha'])

METHOD = base.register(base.Method('kd', loss, keys=KEYS, hparams=HPARAMS))
