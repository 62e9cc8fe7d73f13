"""KDSVD (issue 28) against numpy of mdistiller's code, its gradient against
finite differences, a run and its refusals."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import errors
from kdjax import train
from kdjax.methods import kdsvd
from tests.conftest import REPO
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(2018)


def np_svd(feature_map, n):
  """mdistiller's `svd`: an NHWC map as torch's NCHW view [B, C*H, W]."""
  b, h, w, c = feature_map.shape
  x = feature_map.transpose(0, 3, 1, 2).reshape(b, c * h, w)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  v = vt.transpose(0, 2, 1)[:, :, :n]
  s = s[:, :n]
  return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12),
          s / np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-12))


def np_kdsvd(student_maps, teacher_maps, k):
  """mdistiller's `kdsvd_loss`, written from its formulas."""
  total, previous = 0.0, None
  for f_s, f_t in zip(student_maps, teacher_maps):
    v_t, s_t = np_svd(f_t, k)
    v_s, _ = np_svd(f_s, k + 3)
    cosine = v_s.transpose(0, 2, 1) @ v_t
    best = np.abs(cosine).max(axis=1, keepdims=True)
    v_s = v_s @ np.where(best == np.abs(cosine), np.sign(cosine), 0.0)
    v_t, v_s = v_t * s_t[:, None, :], v_s * s_t[:, None, :]
    if previous is not None:
      rbf = lambda a, b: np.exp(-(a[:, :, None, :] - b[:, None, :, :]) ** 2 / 8)
      total += ((rbf(v_s, previous[0]) - rbf(v_t, previous[1])) ** 2).sum()
    previous = (v_s, v_t)
  return total / student_maps[0].shape[0]


def _maps(k=2):
  shapes_s, shapes_t = [(3, 6, 6, 4), (3, 3, 3, 8)], [(3, 6, 6, 5), (3, 3, 3, 6)]
  return ([RNG.normal(size=s).astype(np.float32) for s in shapes_s],
          [RNG.normal(size=s).astype(np.float32) for s in shapes_t])


@pytest.mark.parametrize('k', [1, 2])
def test_loss_matches_numpy_of_the_reference(k):
  s, t = _maps()
  got = float(kdsvd.kdsvd_loss([jnp.asarray(x) for x in s], [jnp.asarray(x) for x in t], k))
  want = np_kdsvd([x.astype(np.float64) for x in s], [x.astype(np.float64) for x in t], k)
  assert want > 1e-3
  np.testing.assert_allclose(got, want, rtol=2e-4)


def test_gradient_matches_finite_differences():
  s, t = _maps()
  t64 = [x.astype(np.float64) for x in t]
  grad = jax.grad(lambda a, b: kdsvd.kdsvd_loss([a, b], [jnp.asarray(x) for x in t], 1),
                  argnums=(0, 1))(*[jnp.asarray(x) for x in s])
  assert all(np.isfinite(np.asarray(g)).all() for g in grad)
  for which, index in ((0, (1, 2, 3, 0)), (1, (0, 1, 2, 5)), (0, (2, 5, 0, 3))):
    bump = [np.zeros_like(x, np.float64) for x in s]
    bump[which][index] = 1e-5
    f = lambda sign: np_kdsvd([x + sign * d for x, d in zip(s, bump)], t64, 1)
    np.testing.assert_allclose(float(grad[which][index]), (f(1) - f(-1)) / 2e-5,
                               rtol=2e-3, atol=1e-5)


def test_kdsvd_trains_and_refuses_what_cannot_pair(tmp_path):
  config = _cnn_pair(tmp_path)  # student maps 4x4 (block_0); teacher 4x4, 2x2
  config.method = 'kdsvd'
  config.model = train.config_lib.cnn((4, 4), dense=(8,))
  config.kdsvd.pairs = ('block_0:block_0', 'block_1:block_1')
  metrics = train.train_and_evaluate(config, str(tmp_path / 'kdsvd'))
  last = metrics['history'][-1]
  assert np.isfinite(last['train_kdsvd']) and last['train_kdsvd'] > 0
  assert last['train_ce'] + last['train_kdsvd'] == pytest.approx(last['train_loss'], rel=1e-5)
  for value, match in ((('block_0:block_0',), 'expected at least 2'),
                       (('block_0:block_1', 'block_1:block_1'), r'pairs \(4, 4\) with \(2, 2\)')):
    config.kdsvd.pairs = value
    with pytest.raises(errors.ConfigError, match=match):
      train.train_and_evaluate(config, str(tmp_path / 'refused'))


# The CIFAR pair's maps (B = 32): each SVD's batch is large enough for jaxlib
# to split it over XLA's thread pool, where two SVDs at once hung for ever on
# 2 cores (2 of 3 runs within 60 s before kdsvd._after ordered them).
_CONCURRENT = """
import jax, jax.numpy as jnp, numpy as np
from kdjax.methods import kdsvd
r = np.random.RandomState(0)
maps = [jnp.asarray(r.rand(32, h, h, c), jnp.float32)
        for h, c in ((16, 32), (8, 64), (16, 64), (8, 128))]
grad = jax.jit(jax.grad(lambda s0, s1, t0, t1: kdsvd.kdsvd_loss(
    [s0 * 2, s1 * 2], [t0 * 3, t1 * 3], 1), argnums=(0, 1)))
for _ in range(20):
  jax.block_until_ready(grad(*maps))
"""


def test_the_svds_of_one_step_do_not_wait_for_each_other():
  try:
    subprocess.run([sys.executable, '-c', _CONCURRENT], cwd=REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=REPO), timeout=240)
  except subprocess.TimeoutExpired:
    pytest.fail('20 KDSVD gradient steps did not finish in 240 s (the SVDs deadlocked)')
