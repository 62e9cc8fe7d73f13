"""CRD and method state between steps (issue 28): the contrastive loss and
the memory update against numpy of the reference code's formulas, its
negatives' distribution, finite differences, and the state through a run,
kill-and-resume, re-evaluation and a grid."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import checkpoint
from kdjax import grid
from kdjax import methods
from kdjax import models
from kdjax import outputs
from kdjax import steps
from kdjax import train
from kdjax.methods import crd
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(2020)


def np_nce(p, n_data):
  """RepDistiller's ContrastLoss: -(sum log D1 + sum log D0) / bsz."""
  m = p.shape[1] - 1
  pn = 1.0 / n_data
  log_d1 = np.log(p[:, 0] / (p[:, 0] + m * pn + 1e-7))
  log_d0 = np.log((m * pn) / (p[:, 1:] + m * pn + 1e-7))
  return -(log_d1.sum() + log_d0.sum()) / p.shape[0]


def np_crd(f_s, f_t, memory_s, memory_t, idx, tau, momentum, rows):
  """ContrastMemory's forward (Z from this, the first, batch) and update, then
  CRDLoss: (s_loss + t_loss, new memory_s, new memory_t, Z)."""
  n = memory_s.shape[0]
  out_v1 = np.exp(np.einsum('bkd,bd->bk', memory_t[idx], f_s) / tau)
  out_v2 = np.exp(np.einsum('bkd,bd->bk', memory_s[idx], f_t) / tau)
  z1, z2 = out_v1.mean() * n, out_v2.mean() * n
  loss = np_nce(out_v1 / z1, n) + np_nce(out_v2 / z2, n)
  new = []
  for memory, f in ((memory_s, f_s), (memory_t, f_t)):
    memory = memory.copy()
    pos = memory[rows] * momentum + f * (1 - momentum)
    memory[rows] = pos / np.sqrt((pos ** 2).sum(1, keepdims=True))
    new.append(memory)
  return loss, new[0], new[1], (z1, z2)


def _state(n=40, classes=4, dim=6):
  labels = np.arange(n) % classes
  config = train.config_lib.get_base_config()
  config.crd.feat_dim = dim
  return labels, crd.initial_state(config, labels, {}, {}, jax.random.PRNGKey(0),
                                   stage_parts={})


def _unit(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_initial_banks_are_uniform_in_the_reference_bounds():
  labels, state = _state(n=2000, dim=12)
  stdv = 1 / np.sqrt(12 / 3)
  for bank in (state['memory_s'], state['memory_t']):
    bank = np.asarray(bank)
    assert bank.shape == (2000, 12) and np.abs(bank).max() <= stdv
    np.testing.assert_allclose(bank.var(), (2 * stdv) ** 2 / 12, rtol=0.02)  # U(-a, a)
  assert not np.array_equal(state['memory_s'], state['memory_t'])
  assert list(np.asarray(state['z'])) == [-1, -1]
  np.testing.assert_array_equal(labels[np.asarray(state['by_class'])], np.sort(labels))


def test_loss_and_memory_update_match_the_reference_formulas():
  labels, state = _state()
  b, k = 8, 12
  f_s, f_t = _unit(RNG.normal(size=(b, 6))), _unit(RNG.normal(size=(b, 6)))
  rows = jnp.asarray(RNG.permutation(40)[:b], jnp.int32)
  rng = jax.random.PRNGKey(5)
  context = methods.Context(rows, rng, None)
  hparams = {'weight': jnp.float32(0.8), 'nce_t': jnp.float32(0.07),
             'nce_m': jnp.float32(0.5)}
  student = (jnp.zeros((b, 4)), {'method': {'student': jnp.asarray(f_s, jnp.float32),
                                            'teacher': jnp.asarray(f_t, jnp.float32)}})
  y = jnp.asarray(labels[np.asarray(rows)])
  total, terms, new = crd.loss(student, (None, None), y, hparams, state=state,
                               context=context, nce_k=k, mode='exact')
  idx = np.asarray(crd.contrast_indices(rng, rows, state, k=k, mode='exact'))
  want, mem_s, mem_t, z = np_crd(f_s, f_t, np.asarray(state['memory_s'], np.float64),
                                 np.asarray(state['memory_t'], np.float64), idx, 0.07, 0.5,
                                 np.asarray(rows))
  np.testing.assert_allclose(float(terms['crd']), 0.8 * want, rtol=1e-5)
  np.testing.assert_allclose(float(total), float(terms['ce']) + float(terms['crd']), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(new['z']), z, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(new['memory_s']), mem_s, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(new['memory_t']), mem_t, rtol=1e-5, atol=1e-6)
  # A second step keeps Z (the code fixes it at the first).
  _, _, again = crd.loss(student, (None, None), y, hparams, state=new, context=context,
                         nce_k=k, mode='exact')
  np.testing.assert_array_equal(np.asarray(again['z']), np.asarray(new['z']))


def test_gradient_matches_finite_differences():
  """d L / d f_s against central differences of the numpy loss (Z fixed, as
  after the first step)."""
  _, state = _state()
  state = {**state, 'z': jnp.asarray([3.0, 5.0], jnp.float32)}
  rows = jnp.arange(6, dtype=jnp.int32)
  f_t = _unit(RNG.normal(size=(6, 6)))
  context = methods.Context(rows, jax.random.PRNGKey(1), None)
  hparams = {'weight': jnp.float32(1.0), 'nce_t': jnp.float32(0.5),
             'nce_m': jnp.float32(0.5)}
  idx = np.asarray(crd.contrast_indices(context.rng, rows, state, k=10, mode='exact'))
  memory_t = np.asarray(state['memory_t'], np.float64)

  def jax_loss(f_s):
    student = (jnp.zeros((6, 4)), {'method': {'student': f_s,
                                              'teacher': jnp.asarray(f_t, jnp.float32)}})
    return crd.loss(student, (None, None), jnp.zeros(6, jnp.int32), hparams, state=state,
                    context=context, nce_k=10, mode='exact')[1]['crd']

  def np_s_loss(f_s):  # the student-anchored half; the teacher's does not depend on f_s
    return np_nce(np.exp(np.einsum('bkd,bd->bk', memory_t[idx], f_s) / 0.5) / 3.0, 40)
  x = RNG.normal(size=(6, 6)) * 0.3
  grad = np.asarray(jax.grad(jax_loss)(jnp.asarray(x, jnp.float32)))
  numeric = np.zeros_like(x)
  for i in np.ndindex(x.shape):
    bump = np.zeros_like(x)
    bump[i] = 1e-6
    numeric[i] = (np_s_loss(x + bump) - np_s_loss(x - bump)) / 2e-6
  np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-5)


def test_negatives_are_other_classes_distinct_and_uniform():
  labels, state = _state(n=40, classes=4)
  rows = jnp.asarray([0, 1, 2, 3, 5, 9], jnp.int32)
  draw = jax.jit(lambda key: crd.contrast_indices(key, rows, state, k=12, mode='exact'))
  counts = np.zeros((6, 40))
  for seed in range(600):
    idx = np.asarray(draw(jax.random.PRNGKey(seed)))
    np.testing.assert_array_equal(idx[:, 0], rows)  # 'exact': the example itself
    neg = idx[:, 1:]
    assert (labels[neg] != labels[np.asarray(rows)][:, None]).all()
    assert all(len(set(r)) == 12 for r in neg)  # without replacement (12 <= 30)
    for i, r in enumerate(neg):
      counts[i, r] += 1
  # Each of the 30 other-class examples is drawn with probability 12/30.
  for i, row in enumerate(rows):
    others = labels != labels[int(row)]
    np.testing.assert_allclose(counts[i, others] / 600, 12 / 30, atol=0.09)
  # More negatives than other-class examples: with replacement, as the reference.
  many = np.asarray(crd.contrast_indices(jax.random.PRNGKey(0), rows, state, k=50,
                                         mode='exact'))
  assert many.shape == (6, 51) and (labels[many[:, 1:]] != labels[np.asarray(rows)][:, None]).all()
  relax = np.asarray(crd.contrast_indices(jax.random.PRNGKey(0), rows, state, k=5,
                                          mode='relax'))
  assert (labels[relax[:, 0]] == labels[np.asarray(rows)]).all()
  assert not np.array_equal(relax[:, 0], np.asarray(rows))


def test_crd_trains_resumes_its_state_bit_exact_and_grids(tmp_path):
  """The banks and Z are checkpointed beside the parameters: a killed run
  resumes bit-exact; the student's count leaves the parts out; a grid over
  crd.weight stacks the state and its point equals the run alone."""
  config = _cnn_pair(tmp_path)
  config.method = 'crd'
  config.crd.update(feat_dim=6, nce_k=32)
  config.train.epochs = 2
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  history = straight['history'][-1]
  assert history['train_ce'] + history['train_crd'] == pytest.approx(history['train_loss'],
                                                                     rel=1e-5)
  mngr = checkpoint.manager(str(tmp_path / 'straight'), create=False)
  saved = mngr.restore(mngr.latest_step())['state']
  bank = np.asarray(saved['method_state']['memory_s'])
  assert bank.shape == (256, 6)
  np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1, rtol=1e-5)  # all rows written
  assert (np.asarray(saved['method_state']['z']) > 0).all()
  student = models.create(config.model, 10)
  assert straight['params'] == models.param_count(models.init(
      student, steps.init_rng(config.seed), (8, 8, 1))['params'])
  config.train.epochs = 1
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 2
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == straight['params_sha256']
  resumed_state = checkpoint.manager(str(tmp_path / 'resumed'), create=False)
  resumed_state = resumed_state.restore(resumed_state.latest_step())['state']['method_state']
  np.testing.assert_array_equal(resumed_state['memory_t'], saved['method_state']['memory_t'])
  again = train.evaluate_checkpoint(config, str(tmp_path / 'resumed'))
  assert again['test'] == straight['test']

  configs = [config.copy_and_resolve_references() for _ in range(2)]
  configs[0].crd.weight = 0.0
  dirs = [str(tmp_path / f'point{i}') for i in range(2)]
  together = grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  assert together[0]['params_sha256'] != together[1]['params_sha256']
  read = lambda d: outputs.read_predictions(os.path.join(d, 'predictions', 'test.npz'))
  np.testing.assert_allclose(read(dirs[1])['logits'],
                             read(str(tmp_path / 'straight'))['logits'], rtol=0, atol=1e-4)

  # With a method of other parts and state (KD: none) in one program, each
  # point keeps its own state; killed after epoch 1, it resumes bit-exact.
  mixed = [config.copy_and_resolve_references() for _ in range(2)]
  mixed[0].method = 'kd'
  mixed_dirs = [str(tmp_path / f'mixed_{c.method}') for c in mixed]
  together = grid.train_grid(mixed, mixed_dirs, str(tmp_path / 'mixed'))
  assert together[1]['grid']['methods'] == ['crd', 'kd'] and together[1]['method'] == 'crd'
  assert set(together[1]['method_parts']) == set(straight['method_parts'])
  assert 'method_parts' not in together[0]
  np.testing.assert_allclose(read(mixed_dirs[1])['logits'],
                             read(str(tmp_path / 'straight'))['logits'], rtol=0, atol=1e-4)
  for c in mixed:
    c.train.epochs = 1
  resumed_dirs = [str(tmp_path / f'resumed_{c.method}') for c in mixed]
  grid.train_grid(mixed, resumed_dirs, str(tmp_path / 'mixed_resumed'))
  for c, d in zip(mixed, resumed_dirs):
    c.train.epochs = 2
    os.remove(os.path.join(d, 'metrics.json'))  # the points train on with the grid
  resumed = grid.train_grid(mixed, resumed_dirs, str(tmp_path / 'mixed_resumed'))
  assert [r['params_sha256'] for r in resumed] == [r['params_sha256'] for r in together]
