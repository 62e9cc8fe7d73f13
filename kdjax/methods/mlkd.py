"""Multi-level logit distillation (Jin et al., "Multi-Level Logit
Distillation", CVPR 2023; code: Jin-Ying/Multi-Level-Logit-Distillation,
also in sunshangquan/logit-standardization-KD, `mdistiller/distillers/MLKD.py`).

At each temperature T of `mlkd.temperatures`, with p = softmax(z / T) [B, C]:
instance-level KD (T^2 KL), class-level alignment of the class-correlation
matrices P^T P [C, C] and batch-level alignment of the example-correlation
matrices P P^T [B, B]:

  ce_w * CE(s, y) + kd_w * sum_T ( KD_T * m_i + CC_T * m_c + BC_T * m_i )

  KD_T = T^2 * mean_b KL(p_t || p_s)
  CC_T = sum (P_t^T P_t - P_s^T P_s)^2 / C
  BC_T = sum (P_t P_t^T - P_s P_s^T)^2 / B

The confidence masks follow the reference code: m_i is the fraction of the
batch whose teacher confidence max_c softmax(z_t) is at most its median, m_c
the fraction of classes whose summed teacher probability is at most the
median over classes. (The code multiplies each batch-mean term by the 0/1
mask and takes the mean, since the per-example reduction is commented out:
a scalar times the masked fraction, not a mean over the masked examples as
the paper's text suggests. kdjax follows the code.) Defaults are the
reference's: temperatures (4, 3, 5, 2, 6), CE weight 0.1, KD weight 0.9.
`distill.logit_standardize` standardises the logits of the KD terms only, as
the reference.

Left out: the reference trains on a weak and a strongly augmented view of
each batch (a second student and teacher pass; the strong view is
AutoAugment-style augmentation the compiled step does not have). Its loss
adds the strong view's CE and unmasked KD terms (its strong class- and
batch-level terms are computed but not returned), about two thirds of its
KD total, so the weak view alone also weighs CE more against KD than the
reference does. Among the reference's "strong" KD terms, those at T = 2
and T = 6 are computed on the weak view's logits (`kd_loss(logits_student_weak,
logits_teacher_weak, 2.0)`, unmasked): kdjax leaves them out with the
rest of that sum, so its weak view lacks 0.9 * (KD_2 + KD_6) unmasked. kdjax's
MLKD is the weak view's objective: the flips and translations the run's
config sets. Under data
parallelism the medians and the batch-level term are per device, as under
DistributedDataParallel.
"""

import jax
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import standardize

CE_WEIGHT = base.number('mlkd.ce_weight', 0.1, 'weight of the cross-entropy',
                        low=0, symbol='ce')
KD_WEIGHT = base.number('mlkd.kd_weight', 0.9,
                        'weight of every KD, class- and batch-level term', low=0,
                        symbol='kd')


def _valid_temperatures(value):
  return (isinstance(value, (tuple, list)) and len(value) > 0 and all(
      isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0
      and t < float('inf') for t in value))


TEMPERATURES = base.Key('mlkd.temperatures', (4.0, 3.0, 5.0, 2.0, 6.0),
                        'the temperatures of the levels (each term once per entry)',
                        _valid_temperatures, 'a non-empty tuple of finite numbers > 0',
                        symbol='T')


def masks(teacher_logits):
  """(m_i, m_c): fractions of examples and classes at or below the median
  teacher confidence (the reference's 50th percentiles, linear interpolation)."""
  p = jax.nn.softmax(jax.lax.stop_gradient(teacher_logits).astype(jnp.float32), axis=-1)
  confidence = jnp.max(p, axis=-1)
  per_class = jnp.sum(p, axis=0)
  fraction = lambda v: jnp.mean((v <= jnp.percentile(v, 50)).astype(jnp.float32))
  return fraction(confidence), fraction(per_class)


def level_terms(student_logits, teacher_logits, temperature, *, standardize_logits=False):
  """(KD_T, CC_T, BC_T) at one temperature (see the module docstring)."""
  kd = temperature**2 * losses.kl_divergence(
      standardize.maybe(teacher_logits, standardize_logits),
      standardize.maybe(student_logits, standardize_logits), temperature)
  p_s = jax.nn.softmax(student_logits.astype(jnp.float32) / temperature, axis=-1)
  p_t = jax.lax.stop_gradient(
      jax.nn.softmax(teacher_logits.astype(jnp.float32) / temperature, axis=-1))
  batch, classes = p_s.shape
  cc = jnp.sum(jnp.square(p_t.T @ p_t - p_s.T @ p_s)) / classes
  bc = jnp.sum(jnp.square(p_t @ p_t.T - p_s @ p_s.T)) / batch
  return kd, cc, bc


def mlkd_loss(student_logits, teacher_logits, labels, *, ce_weight, kd_weight,
              temperatures, standardize_logits=False):
  """ce_w * CE + kd_w * sum_T (KD_T * m_i + CC_T * m_c + BC_T * m_i)."""
  terms = mlkd_terms(student_logits, teacher_logits, labels, ce_weight=ce_weight,
                     kd_weight=kd_weight, temperatures=temperatures,
                     standardize_logits=standardize_logits)
  return terms['ce'] + terms['kd']


def mlkd_terms(student_logits, teacher_logits, labels, *, ce_weight, kd_weight,
               temperatures, standardize_logits=False):
  """{'ce': ce_w * CE, 'kd': kd_w * sum_T (...)}: `mlkd_loss`'s terms."""
  m_i, m_c = masks(teacher_logits)
  total = 0.0
  for t in temperatures:
    kd, cc, bc = level_terms(student_logits, teacher_logits, t,
                             standardize_logits=standardize_logits)
    total = total + kd * m_i + cc * m_c + bc * m_i
  return {'ce': ce_weight * losses.cross_entropy(student_logits, labels),
          'kd': kd_weight * total}


def loss(student, teacher, labels, hparams, *, temperatures, standardize=False):
  terms = mlkd_terms(student[0], teacher[0], labels, ce_weight=hparams['ce_weight'],
                     kd_weight=hparams['kd_weight'], temperatures=temperatures,
                     standardize_logits=standardize)
  return terms['ce'] + terms['kd'], terms


METHOD = base.register(base.Method(
    'mlkd', loss, keys=(CE_WEIGHT, KD_WEIGHT, TEMPERATURES, standardize.STANDARDIZE),
    hparams={'ce_weight': CE_WEIGHT.path, 'kd_weight': KD_WEIGHT.path},
    options=lambda configs: {**standardize.option(configs), 'temperatures': tuple(
        float(t) for t in configs[0].mlkd.temperatures)}))
