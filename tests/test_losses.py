"""Golden checks of kdjax.losses against numpy written independently here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import losses

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
  got = losses.kd_loss(STUDENT, TEACHER, LABELS, temperature=temperature,
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
      losses.kd_loss(STUDENT, STUDENT, LABELS, temperature=5.0, alpha=0.3),
      0.3 * losses.cross_entropy(STUDENT, LABELS), rtol=1e-6)


def test_alpha_one_is_cross_entropy():
  np.testing.assert_allclose(
      losses.kd_loss(STUDENT, TEACHER, LABELS, temperature=20.0, alpha=1.0),
      losses.cross_entropy(STUDENT, LABELS), rtol=1e-6)


@pytest.mark.parametrize('temperature,alpha', [(1.0, 0.0), (4.0, 0.3),
                                               (20.0, 0.1)])
def test_kd_gradient_closed_form(temperature, alpha):
  b = STUDENT.shape[0]
  grad = jax.grad(lambda s: losses.kd_loss(
      s, TEACHER, LABELS, temperature=temperature, alpha=alpha))(STUDENT)
  p_s_t, p_t_t = np_softmax(STUDENT, temperature), np_softmax(TEACHER, temperature)
  one_hot = np.eye(4)[LABELS]
  expected = ((1 - alpha) * temperature * (p_s_t - p_t_t) / b
              + alpha * (np_softmax(STUDENT) - one_hot) / b)
  np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_kd_loss_does_not_differentiate_the_teacher():
  grad = jax.grad(lambda t: losses.kd_loss(
      STUDENT, t, LABELS, temperature=4.0, alpha=0.5))(TEACHER)
  np.testing.assert_array_equal(grad, np.zeros_like(TEACHER))


def test_correct():
  np.testing.assert_array_equal(losses.correct(STUDENT, LABELS), [1, 1, 0])
