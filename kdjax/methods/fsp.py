"""FSP, the flow of solution procedure (Yim et al., "A Gift from Knowledge
Distillation: Fast Optimization, Network Minimization and Transfer
Learning", CVPR 2017): an initialisation stage in which the student learns
the teacher's FSP matrices, then ordinary training.

For two feature maps F1 [B, h, w, m] and F2 [B, h, w, n] of one network, the
FSP matrix (paper eq. 1) is

  G[b, j, i] = 1/(h w) * sum_(x, y) F1[b, x, y, i] F2[b, x, y, j]   [B, n, m],

and the stage's loss (eq. 2, with the reference code's mean in place of the
paper's weighted sum) over consecutive layers l, l+1 of the chain:

  L_FSP = sum_l mean_(b, j, i) (G_s^(l)[b, j, i] - G_t^(l)[b, j, i])^2.

Reference code followed: RepDistiller (`distiller_zoo/FSP.py`,
`train_student.py`'s `init`; mdistiller has no FSP): the larger map of a
layer pair is average-pooled to the smaller's size, the student's and the
teacher's channel counts must agree layer by layer, the chain is the stem
and the stages' outputs (its `feat[:-1]`), and FSP is used only for the
initialisation: `fsp.init_epochs` (30) epochs of L_FSP alone, training the
student's layers up to its last paired map (`get_feat_modules`: not its
classifier, nor WRN's final BatchNorm) by SGD (0.05, momentum 0.9, L2
5e-4: RepDistiller's CIFAR run; `fsp.init_optimizer` sets another),
then the main run with cross-entropy alone (its `-r 1 -a 0 -b 0`).
"""

import jax
import jax.numpy as jnp

from kdjax import errors
from kdjax import optim
from kdjax.methods import base
from kdjax.methods import ce
from kdjax.methods import pairs

PAIRS = pairs.key('fsp.pairs', help="the chain of layers, as 'student_feature:teacher_feature' "
                  'in network order; consecutive entries form the FSP matrices')
KEYS = (
    PAIRS,
    base.integer('fsp.init_epochs', 30, 'epochs of the FSP initialisation stage'),
    base.optimizer_key('fsp.init_optimizer',
                       optim.config('sgd', 0.05, weight_decay=5e-4, momentum=0.9),
                       'optimizer of the initialisation stage (keys as optimizer.*; '
                       "RepDistiller: its CIFAR run's SGD 0.05)"),
)


def fsp_matrix(bottom, top):
  """G [B, n, m] of maps bottom [B, h, w, m] and top [B, h', w', n] (paper eq. 1),
  the larger map average-pooled to the smaller's size first."""
  size = min(bottom.shape[1:3], top.shape[1:3])  # the smaller map's (h, w)
  bottom, top = pairs.pool_to(bottom, size), pairs.pool_to(top, size)
  bottom, top = bottom.astype(jnp.float32), top.astype(jnp.float32)
  return jnp.einsum('bxyi,bxyj->bji', bottom, top) / (size[0] * size[1])


def fsp_loss(student_maps, teacher_maps):
  """L_FSP over the chains (lists of maps in network order)."""
  total = 0.0
  for i in range(len(student_maps) - 1):
    g_s = fsp_matrix(student_maps[i], student_maps[i + 1])
    g_t = jax.lax.stop_gradient(fsp_matrix(teacher_maps[i], teacher_maps[i + 1]))
    total = total + jnp.mean(jnp.square(g_s - g_t))
  return total


def _init_loss(student, teacher, labels, hparams, *, pairs):
  del labels, hparams  # unused
  fsp = fsp_loss([student[1][s] for s, _ in pairs], [teacher[1][t] for _, t in pairs])
  return fsp, {'fsp': fsp}


def _init_objective(config) -> base.Objective:
  chain = pairs.parse(config.fsp.pairs)
  return base.Objective('fsp', _init_loss, tuple(t for _, t in chain), (('pairs', chain),))


INIT_STAGE = base.Stage(
    'init', 'fsp.init_epochs', 'fsp.init_optimizer', _init_objective,
    trainable=lambda config, student: pairs.student_trunk(config, PAIRS.path, student))


def _check_features(config, student, teacher):
  """Two or more pairs of maps whose channels agree and whose consecutive
  sizes divide each other."""
  chain = pairs.parse(config.fsp.pairs)
  if len(chain) < 2:
    raise errors.ConfigError(
        f'fsp.pairs={tuple(config.fsp.pairs)!r} names {len(chain)} layer(s); expected a '
        f'chain of 2 or more from the student maps {pairs.map_names(student)} and the '
        f'teacher maps {pairs.map_names(teacher)}')
  pairs.check_named(PAIRS.path, chain, student, teacher)
  for s, t in chain:
    if student[s].shape[-1] != teacher[t].shape[-1]:
      raise errors.ConfigError(
          f"fsp.pairs entry '{s}:{t}' pairs {student[s].shape[-1]} channels with "
          f'{teacher[t].shape[-1]}; expected equal channels (the FSP matrices must agree)')
  for shapes, who, names in ((student, 'student', [s for s, _ in chain]),
                             (teacher, 'teacher', [t for _, t in chain])):
    for a, b in zip(names, names[1:]):
      small, large = sorted((tuple(shapes[a].shape[1:3]), tuple(shapes[b].shape[1:3])))
      if any(l % s for s, l in zip(small, large)) or any(s > l for s, l in zip(small, large)):
        raise errors.ConfigError(f'fsp.pairs: the {who} maps {a!r} and {b!r} are '
                                 f'{shapes[a].shape[1:3]} and {shapes[b].shape[1:3]}; '
                                 'expected sizes one of which divides the other')


METHOD = base.register(base.Method(
    'fsp', ce.loss_with_term, keys=KEYS, stages=(INIT_STAGE,),
    features=lambda config, options: ((), ()), check_features=_check_features))
