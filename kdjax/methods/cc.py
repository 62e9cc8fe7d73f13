"""Correlation congruence (Peng et al., "Correlation Congruence for Knowledge
Distillation", ICCV 2019), as RepDistiller implements it.

Reference code followed: RepDistiller (`distiller_zoo/CC.py`, "code emailed
to me by the original author"; `train_student.py`, `--distill
correlation`; `scripts/run_cifar_distill.sh`: `-r 1 -a 0 -b 0.02`). Both
networks' embeddings (their last feature, the pooled vector: `feat[-1]`)
pass through a linear embedding each (`LinearEmbed` to `feat_dim` = 128,
both trained with the student: the method's parts, the teacher's too), and

  f_s = W_s e_s + b_s,  f_t = W_t e_t + b_t          [B, 128]
  D = |f_s - f_t|,  L_CC = 1/(B-1) * sum_(i < B-1) sum_d D[i, d] D[i+1, d]

the mean over consecutive pairs of examples of the batch of the products of
their absolute differences; the objective is CE + beta * L_CC, beta = 0.02.
Paper and code differ: the paper matches the examples' correlation
matrices under a Gaussian kernel (Taylor-expanded); kdjax follows the code
the authors shared, which the benchmark tables report.
"""

import flax.linen as nn
import jax.numpy as jnp

from kdjax import losses
from kdjax.methods import base
from kdjax.models import layers

WEIGHT = base.number('cc.weight', 0.02, 'beta of the correlation-congruence term', low=0,
                     symbol='β')
DIM = base.integer('cc.feat_dim', 128, 'width of the two linear embeddings (feat_dim)', low=1)


class Embeddings(nn.Module):
  """The linear embeddings of the student's and the teacher's 'embedding'
  ([B, D_s], [B, D_t] -> [B, feat_dim] each): the method's parts. normalize:
  each row divided by its L2 norm, with no eps, as CRD's `Embed` (crd.py)."""
  feat_dim: int = 128
  param_init: str = 'flax'
  normalize: bool = False
  reads_teacher = True  # called on the teacher's features too (models.parts)

  @nn.compact
  def __call__(self, student, teacher):
    init = layers.scheme(self.param_init)

    def embed(x, name):
      x = layers.dense(self.feat_dim, init=init, name=name)(
          x.reshape(x.shape[0], -1).astype(jnp.float32))
      return x / jnp.sqrt(jnp.sum(x * x, axis=1, keepdims=True)) if self.normalize else x
    return {'student': embed(student['embedding'], 'embed_s'),
            'teacher': embed(teacher['embedding'], 'embed_t')}


def cc_loss(f_s, f_t):
  """L_CC of the embedded [B, d] student and teacher features."""
  delta = jnp.abs(f_s - f_t)
  return jnp.mean(jnp.sum(delta[:-1] * delta[1:], axis=1))


def loss(student, teacher, labels, hparams):
  """(CE + beta * L_CC, {'ce', 'cc'}); the teacher's embedding reaches L_CC
  through its trained linear map (the head), so it is not stopped there."""
  del teacher  # read by the head
  ce = losses.cross_entropy(student[0], labels)
  parts = student[1]['method']
  cc = hparams['weight'] * cc_loss(parts['student'], parts['teacher'])
  return ce + cc, {'ce': ce, 'cc': cc}


def _head(config, student, teacher):
  del student, teacher  # the shapes come with the features
  return Embeddings(config.cc.feat_dim, config.model.get('param_init', 'flax'))


METHOD = base.register(base.Method(
    'cc', loss, keys=(WEIGHT, DIM), hparams={'weight': WEIGHT.path},
    features=lambda config, options: (('embedding',), ('embedding',)), head=_head,
    describe_parts=lambda config, parts: {}))
