"""Contrastive representation distillation (Tian, Krishnan & Isola,
"Contrastive Representation Distillation", ICLR 2020), as its authors'
RepDistiller implements it.

Reference code followed: RepDistiller (`crd/criterion.py`, `crd/memory.py`,
`dataset/cifar100.py` `CIFAR100InstanceSample`, `train_student.py`; README:
`--distill crd -a 0 -b 0.8`); mdistiller's `distillers/CRD.py` is the same.
Both networks' last feature (the pooled vector, `feat[-1]`: 'embedding')
pass through a linear embedding each, L2-normalised (`Embed`: cc.Embeddings, to
`feat_dim` = 128; both trained with the student: the method's parts):
f_s, f_t [B, 128]. Two memory banks of every training example's embedding,
M_s and M_t [N, 128] (uniform in ±1/sqrt(feat_dim/3) at the start), are the
method's state. For example i of the batch, with its K + 1 contrast indices
(j_0 = i the positive, then K = `nce_k` negatives),

  P_s[i, k] = exp(M_t[j_k] . f_s[i] / tau) / Z_s,
  P_t[i, k] = exp(M_s[j_k] . f_t[i] / tau) / Z_t,

Z fixed at the first step to mean(exp(...)) * N (the code's constants), and
the NCE loss of each (the paper's eq. 18 with P_n = 1/N, m = K):

  L = -1/B sum_i [ log(P[i,0] / (P[i,0] + K/N + eps))
                   + sum_(k>=1) log((K/N) / (P[i,k] + K/N + eps)) ],  eps = 1e-7,

the objective CE + beta * (L(P_s) + L(P_t)), beta = 0.8. After the losses
(from the banks as they were) the batch's rows are updated with momentum
m = `nce_m`: M[i] <- normalise(m M[i] + (1 - m) f[i]), f detached.

Negatives, as the reference's 'exact' mode samples them: K examples of other
classes than example i's, without replacement (with replacement where K
exceeds them); 'relax' mode also draws the positive as a random example of
the same class. kdjax draws them per step on the device, each example's as a
window of K other-class examples at a random offset into one random
permutation of the training set: each example's negatives are a uniformly
random K-subset of the other classes' examples, as the reference's, but two
examples' sets are drawn from the same permutation and so are not
independent (the loss's expectation is the reference's; its variance over
the draws may differ).
"""

import jax
import jax.numpy as jnp
import numpy as np

from kdjax import losses
from kdjax.methods import base
from kdjax.methods import cc

WEIGHT = base.number('crd.weight', 0.8, 'beta of the contrastive term', low=0, symbol='β')
DIM = base.integer('crd.feat_dim', 128, 'width of the two normalised embeddings (feat_dim)',
                   low=1)
NCE_K = base.integer('crd.nce_k', 16384, 'negatives per example (nce_k)', low=1, symbol='K')
NCE_T = base.number('crd.nce_t', 0.07, 'temperature tau of the contrast (nce_t)', low=0,
                    low_open=True, symbol='τ')
NCE_M = base.number('crd.nce_m', 0.5, 'momentum of the memory banks (nce_m)', low=0,
                    high=1)
MODE = base.Key('crd.mode', 'exact', "the positive: 'exact' (the example itself) or "
                "'relax' (a random example of its class)", lambda v: v in ('exact', 'relax'),
                "'exact' or 'relax'")
EPS = 1e-7  # the reference's ContrastLoss eps


def initial_state(config, labels, student, teacher, rng, **_):
  """The memory banks [N, feat_dim] (uniform in ±1/sqrt(feat_dim/3), as
  ContrastMemory's), the normalisation constants Z (-1: not set yet) and the
  training labels [N] the negatives are drawn by."""
  del student, teacher  # (nor its stages' parts or the teacher's variables)
  n, dim = len(labels), config.crd.feat_dim
  stdv = 1.0 / np.sqrt(dim / 3)
  k_s, k_t = jax.random.split(rng)
  bank = lambda key: jax.random.uniform(key, (n, dim), jnp.float32, -stdv, stdv)
  order = np.argsort(labels, kind='stable').astype(np.int32)
  counts = np.bincount(labels, minlength=int(labels.max()) + 1)
  return {'memory_s': bank(k_s), 'memory_t': bank(k_t),
          'z': -jnp.ones((2,), jnp.float32),
          'labels': jnp.asarray(labels, jnp.int32),
          'by_class': jnp.asarray(order),  # indices sorted by class
          'class_start': jnp.asarray(np.concatenate([[0], np.cumsum(counts)[:-1]]),
                                     jnp.int32),
          'class_count': jnp.asarray(counts, jnp.int32)}


def contrast_indices(rng, indices, state, *, k: int, mode: str):
  """[B, k + 1] training-set indices: each example's positive (itself, or in
  'relax' mode a random example of its class), then k examples of other
  classes, without replacement where there are at least k of them."""
  all_labels = state['labels']
  n = all_labels.shape[0]
  y = all_labels[indices]
  k_perm, k_off, k_rep, k_pos = jax.random.split(rng, 4)
  perm = jax.random.permutation(k_perm, n)
  others = all_labels[perm][None, :] != y[:, None]  # [B, N] in the permutation's order
  size = n - state['class_count'][y]  # [B] other-class examples
  # Positions (in the permutation) of each example's other-class examples, in order.
  where = jax.vmap(lambda m: jnp.nonzero(m, size=n, fill_value=0)[0])(others)
  offset = jax.random.randint(k_off, y.shape, 0, jnp.maximum(size, 1))
  window = (offset[:, None] + jnp.arange(k)[None, :]) % jnp.maximum(size, 1)[:, None]
  drawn = jax.random.randint(k_rep, (y.shape[0], k), 0, jnp.maximum(size, 1)[:, None])
  slots = jnp.where((k > size)[:, None], drawn, window)
  negatives = perm[jnp.take_along_axis(where, slots, axis=1)]
  if mode == 'relax':
    pick = jax.random.randint(k_pos, y.shape, 0, state['class_count'][y])
    positive = state['by_class'][state['class_start'][y] + pick]
  else:
    positive = indices
  return jnp.concatenate([positive[:, None], negatives], axis=1)


def nce_loss(p, n_data):
  """The reference's ContrastLoss of P [B, K + 1] (column 0 the positive)."""
  m = p.shape[1] - 1
  noise = m / n_data
  log_d1 = jnp.log(p[:, 0] / (p[:, 0] + noise + EPS))
  log_d0 = jnp.log(noise / (p[:, 1:] + noise + EPS))
  return -(jnp.sum(log_d1) + jnp.sum(log_d0)) / p.shape[0]


def _mean(x, axis_name):
  return x if axis_name is None else jax.lax.pmean(x, axis_name)


def loss(student, teacher, labels, hparams, *, state, context, nce_k, mode):
  """(CE + beta * (L(P_s) + L(P_t)), {'ce', 'crd'}, the updated state)."""
  del teacher  # read by the head
  if context.indices is None:
    raise ValueError("method 'crd' needs the batch's example indices")
  parts = student[1]['method']
  f_s, f_t = parts['student'], parts['teacher']
  n = state['memory_s'].shape[0]
  idx = contrast_indices(context.rng, context.indices, state, k=nce_k, mode=mode)
  tau = hparams['nce_t']
  # Scores of every bank row, then each example's K + 1 (the banks are constants).
  score = lambda f, bank: jnp.take_along_axis(
      jnp.exp(f @ jax.lax.stop_gradient(bank).T / tau), idx, axis=1)
  out_s, out_t = score(f_s, state['memory_t']), score(f_t, state['memory_s'])
  first = jnp.stack([jnp.mean(out_s), jnp.mean(out_t)]) * n
  z = jnp.where(state['z'] < 0, jax.lax.stop_gradient(_mean(first, context.axis_name)),
                state['z'])
  crd = hparams['weight'] * (nce_loss(out_s / z[0], n) + nce_loss(out_t / z[1], n))
  ce = losses.cross_entropy(student[0], labels)

  rows, f_s, f_t = context.indices, jax.lax.stop_gradient(f_s), jax.lax.stop_gradient(f_t)
  if context.axis_name is not None:  # every device writes every device's rows
    gather = lambda x: jax.lax.all_gather(x, context.axis_name, tiled=True)
    rows, f_s, f_t = gather(rows), gather(f_s), gather(f_t)
  momentum = hparams['nce_m']

  def update(bank, f):
    new = bank[rows] * momentum + f * (1 - momentum)
    return bank.at[rows].set(new / jnp.sqrt(jnp.sum(new * new, axis=1, keepdims=True)))
  new_state = {**state, 'z': z, 'memory_s': update(state['memory_s'], f_s),
               'memory_t': update(state['memory_t'], f_t)}
  return ce + crd, {'ce': ce, 'crd': crd}, new_state


def _head(config, student, teacher):
  del student, teacher  # the shapes come with the features
  return cc.Embeddings(config.crd.feat_dim, config.model.get('param_init', 'flax'),
                       normalize=True)


METHOD = base.register(base.Method(
    'crd', loss, keys=(WEIGHT, DIM, NCE_K, NCE_T, NCE_M, MODE),
    hparams={'weight': WEIGHT.path, 'nce_t': NCE_T.path, 'nce_m': NCE_M.path},
    options=lambda configs: {'nce_k': configs[0].crd.nce_k, 'mode': configs[0].crd.mode},
    features=lambda config, options: (('embedding',), ('embedding',)), head=_head,
    state=initial_state))
