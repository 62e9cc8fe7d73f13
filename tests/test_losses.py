"""Golden checks of kdjax.losses against numpy written independently here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import losses
from kdjax.methods import fitnet
from kdjax.methods import kd
from kdjax.methods import rkd

STUDENT = np.array([[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, 3.0, -2.0],
                    [-1.0, 4.0, 0.0, 1.0]], np.float32)
TEACHER = np.array([[3.0, -2.0, 0.0, 1.0], [0.0, 0.0, 5.0, -1.0],
                    [0.5, 2.0, 0.5, 0.5]], np.float32)
LABELS = np.array([0, 2, 3], np.int32)


def np_softmax(z, t=1.0):
  e = np.exp(z / t - (z / t).max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_kd(s, t, y, temperature, alpha):
  p_s, p_t = np_softmax(s, temperature), np_softmax(t, temperature)
  ce = -np.log(np_softmax(s)[np.arange(len(y)), y]).mean()
  kl = (p_t * np.log(p_t / p_s)).sum(-1).mean()
  return alpha * ce + (1 - alpha) * temperature**2 * kl


def test_cross_entropy_matches_numpy():
  expected = -np.log(np_softmax(STUDENT)[np.arange(3), LABELS]).mean()
  np.testing.assert_allclose(losses.cross_entropy(STUDENT, LABELS), expected,
                             rtol=1e-6)


def test_cross_entropy_hand_value():
  # Two equal logits: CE = log 2.
  np.testing.assert_allclose(
      losses.cross_entropy(jnp.zeros((1, 2)), jnp.array([1])), np.log(2), rtol=1e-6)


@pytest.mark.parametrize('temperature,alpha', [(1.0, 0.5), (4.0, 0.1),
                                               (20.0, 0.1), (2.5, 0.0)])
def test_kd_loss_matches_numpy(temperature, alpha):
  got = kd.kd_loss(STUDENT, TEACHER, LABELS, temperature=temperature,
                       alpha=alpha)
  np.testing.assert_allclose(
      got, np_kd(STUDENT.astype(np.float64), TEACHER.astype(np.float64),
                 LABELS, temperature, alpha), rtol=1e-5)


def test_kl_direction_is_teacher_to_student():
  # KL(p_t || p_s) differs from KL(p_s || p_t) on these logits.
  p_s, p_t = np_softmax(STUDENT.astype(np.float64)), np_softmax(TEACHER.astype(np.float64))
  forward = (p_t * np.log(p_t / p_s)).sum(-1).mean()
  reverse = (p_s * np.log(p_s / p_t)).sum(-1).mean()
  assert abs(forward - reverse) > 1e-2
  np.testing.assert_allclose(losses.kl_divergence(TEACHER, STUDENT), forward,
                             rtol=1e-5)


def test_kl_is_zero_for_equal_logits():
  assert abs(float(losses.kl_divergence(STUDENT, STUDENT, 7.0))) < 1e-7
  # ... and the soft term vanishes, leaving alpha * CE.
  np.testing.assert_allclose(
      kd.kd_loss(STUDENT, STUDENT, LABELS, temperature=5.0, alpha=0.3),
      0.3 * losses.cross_entropy(STUDENT, LABELS), rtol=1e-6)


def test_alpha_one_is_cross_entropy():
  np.testing.assert_allclose(
      kd.kd_loss(STUDENT, TEACHER, LABELS, temperature=20.0, alpha=1.0),
      losses.cross_entropy(STUDENT, LABELS), rtol=1e-6)


@pytest.mark.parametrize('temperature,alpha', [(1.0, 0.0), (4.0, 0.3),
                                               (20.0, 0.1)])
def test_kd_gradient_closed_form(temperature, alpha):
  b = STUDENT.shape[0]
  grad = jax.grad(lambda s: kd.kd_loss(
      s, TEACHER, LABELS, temperature=temperature, alpha=alpha))(STUDENT)
  p_s_t, p_t_t = np_softmax(STUDENT, temperature), np_softmax(TEACHER, temperature)
  one_hot = np.eye(4)[LABELS]
  expected = ((1 - alpha) * temperature * (p_s_t - p_t_t) / b
              + alpha * (np_softmax(STUDENT) - one_hot) / b)
  np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_kd_loss_does_not_differentiate_the_teacher():
  grad = jax.grad(lambda t: kd.kd_loss(
      STUDENT, t, LABELS, temperature=4.0, alpha=0.5))(TEACHER)
  np.testing.assert_array_equal(grad, np.zeros_like(TEACHER))


def test_correct():
  np.testing.assert_array_equal(losses.correct(STUDENT, LABELS), [1, 1, 0])


# --- FitNets hint and RKD, against numpy written here -----------------------

def np_distances(e):
  e = np.asarray(e, np.float64)
  return np.sqrt(((e[:, None, :] - e[None, :, :]) ** 2).sum(-1))


def np_smooth_l1(x, y):
  d = np.abs(x - y)
  return np.where(d < 1, 0.5 * d**2, d - 0.5).mean()


def np_pair_mean(d):
  """Study eq. 4's mu: the mean distance over the pairs i != j."""
  return d[~np.eye(len(d), dtype=bool)].mean()


def np_rkd_distance(s, t):
  ds, dt = np_distances(s), np_distances(t)
  return np_smooth_l1(ds / np_pair_mean(ds), dt / np_pair_mean(dt))


def np_rkd_angle(s, t):
  def angles(e):
    e = np.asarray(e, np.float64)
    diff = e[None, :, :] - e[:, None, :]  # diff[a, b] = e_b - e_a (Park et al.)
    norm = np.linalg.norm(diff, axis=-1, keepdims=True)
    unit = np.divide(diff, norm, out=np.zeros_like(diff), where=norm > 0)
    return np.einsum('abd,acd->abc', unit, unit)
  return np_smooth_l1(angles(s), angles(t))


EMB_S = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
EMB_T = np.random.default_rng(1).normal(size=(6, 7)).astype(np.float32) * 3


def test_hint_loss_matches_numpy_and_is_zero_for_an_exact_regressor():
  r = EMB_S[:, :4]
  h = EMB_T[:, :4]
  np.testing.assert_allclose(fitnet.hint_loss(r, h), ((r - h) ** 2).mean(), rtol=1e-6)
  assert float(fitnet.hint_loss(h, h)) == 0.0


def test_rkd_distance_matches_numpy():
  np.testing.assert_allclose(rkd.distance_loss(EMB_S, EMB_T),
                             np_rkd_distance(EMB_S, EMB_T), rtol=1e-5)


def test_rkd_distance_smooth_l1_uses_both_branches():
  far = EMB_S.copy()
  far[0] *= 40  # pushes some normalised distance differences above delta=1
  d = np.abs(np_distances(far) / np_pair_mean(np_distances(far))
             - np_distances(EMB_T) / np_pair_mean(np_distances(EMB_T)))
  assert (d > 1).any() and (d < 1).any()
  np.testing.assert_allclose(rkd.distance_loss(far, EMB_T),
                             np_rkd_distance(far, EMB_T), rtol=1e-5)


def test_rkd_distance_is_scale_and_permutation_invariant():
  base = rkd.distance_loss(EMB_S, EMB_T)
  np.testing.assert_allclose(rkd.distance_loss(7.5 * EMB_S, 0.01 * EMB_T),
                             base, rtol=1e-4)
  perm = np.random.default_rng(3).permutation(6)
  np.testing.assert_allclose(rkd.distance_loss(EMB_S[perm], EMB_T[perm]),
                             base, rtol=1e-5)
  assert float(rkd.distance_loss(EMB_T, 2 * EMB_T)) < 1e-6


def test_rkd_distance_docstring_says_how_it_normalises():
  """Issue 26, item 12: the docstring said 'mean non-zero distance'; the mean
  is over all pairs i != j, a duplicate pair's zero included."""
  s = EMB_S.copy()
  s[1] = s[0]
  nonzero = np_distances(s)[np_distances(s) > 0].mean()
  assert not np.isclose(nonzero, np_pair_mean(np_distances(s)))
  np.testing.assert_allclose(rkd.distance_loss(s, EMB_T), np_rkd_distance(s, EMB_T),
                             rtol=1e-5)
  doc = ' '.join(rkd.distance_loss.__doc__.split())
  assert 'non-zero' not in doc and 'mean distance over all pairs i != j' in doc


def test_rkd_angle_matches_numpy():
  np.testing.assert_allclose(rkd.angle_loss(EMB_S, EMB_T),
                             np_rkd_angle(EMB_S, EMB_T), rtol=1e-4, atol=1e-6)


def test_rkd_gradients_are_finite_for_duplicate_embeddings():
  s = EMB_S.copy()
  s[1] = s[0]  # a zero distance off the diagonal
  t = EMB_T.copy()
  t[2] = t[3]
  for loss in (rkd.distance_loss, rkd.angle_loss):
    grad = jax.grad(loss)(jnp.asarray(s), jnp.asarray(t))
    assert np.isfinite(np.asarray(grad)).all(), loss.__name__
    assert np.abs(np.asarray(grad)).sum() > 0
  # A batch collapsed onto one point: loss and gradient stay finite.
  same = jnp.ones((4, 5))
  assert np.isfinite(float(rkd.distance_loss(same, jnp.asarray(EMB_T[:4]))))
  assert np.isfinite(np.asarray(jax.grad(rkd.distance_loss)(same, same))).all()


def test_rkd_distance_gradient_matches_finite_differences():
  s = jnp.asarray(EMB_S, jnp.float32)
  grad = jax.grad(rkd.distance_loss)(s, EMB_T)
  eps = 1e-3
  for i, j in ((0, 0), (3, 2), (5, 4)):
    bump = np.zeros_like(EMB_S)
    bump[i, j] = eps
    numeric = (np_rkd_distance(EMB_S + bump, EMB_T) -
               np_rkd_distance(EMB_S - bump, EMB_T)) / (2 * eps)
    np.testing.assert_allclose(grad[i, j], numeric, rtol=1e-2, atol=1e-5)


def _clustered(seed, offset):
  """B=8, D=10 embeddings at a common point + 0.01 N(0, 1) (issue 13, item 12)."""
  r = np.random.default_rng(seed)
  s = (r.normal(size=10) * 3 + offset + 0.01 * r.normal(size=(8, 10))).astype(np.float32)
  t = (r.normal(size=10) + 0.01 * r.normal(size=(8, 10))).astype(np.float32)
  return s, t


@pytest.mark.parametrize('offset', [0.0, 100.0])
@pytest.mark.parametrize('name', ['distance', 'angle'])
def test_rkd_on_clustered_embeddings_matches_float64(name, offset):
  """Before centring, float32 lost the spread under the common offset (angle
  off by 7e-4 relative at offset 0; 15x the value at offset 100)."""
  loss = getattr(rkd, f'{name}_loss')
  reference = {'distance': np_rkd_distance, 'angle': np_rkd_angle}[name]
  for seed in range(5):
    s, t = _clustered(seed, offset)
    s64, t64 = s.astype(np.float64), t.astype(np.float64)
    np.testing.assert_allclose(float(loss(s, t)), reference(s64, t64), rtol=2e-6)
    grad = np.asarray(jax.grad(loss)(jnp.asarray(s), jnp.asarray(t)))
    eps = 1e-6
    for i, j in ((0, 0), (3, 4), (7, 9)):
      bump = np.zeros_like(s64)
      bump[i, j] = eps
      numeric = (reference(s64 + bump, t64) - reference(s64 - bump, t64)) / (2 * eps)
      assert abs(grad[i, j] - numeric) <= 1e-5 * np.abs(grad).max(), (seed, i, j)


@pytest.mark.parametrize('near', [5.96e-8, 6.1035156e-05])
def test_rkd_distance_near_duplicates_are_continuous(near):
  """A near-duplicate pair: when the mean ran over the non-zero distances, the
  pair's float32 distance (noise of the Gram formula at this spread) moving
  between 0 and not 0 changed the mean's count, and the loss jumped (0.222 vs
  0.361 at scale 17 for 5.96e-8; 0.243 vs 0.255 under a permutation for
  6.1e-5, both found by the property test). Eq. 4's mean over all pairs has
  no such jump: scaled and permuted, the loss stays at float64's value."""
  student = np.array([[0.0], [1.0], [near], [1.6663229], [3.2339253]], np.float32)
  teacher = np.roll(student, 1, axis=0) * 2 + 1
  want = np_rkd_distance(student, teacher)
  for scale in (1.0, 5.0, 17.0, 1e-3, 1e4):
    assert float(rkd.distance_loss(student * scale, teacher)) == pytest.approx(
        want, rel=1e-4, abs=1e-6)
  perm = [4, 2, 0, 3, 1]
  assert float(rkd.distance_loss(student[perm], teacher[perm])) == pytest.approx(
      want, rel=1e-4, abs=1e-6)
