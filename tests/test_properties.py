"""Property tests (hypothesis) of the losses and the statistics.

Deterministic in CI (a fixed, derandomised search); KDJAX_WIDE_PROPERTIES=1
searches 50x more examples with fresh randomness, to find new failures.
"""

import os

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import jax.numpy as jnp
import numpy as np

from kdjax.methods import kd
from kdjax.methods import rkd
from kdjax.analysis import stats

FAST = (settings(max_examples=2000, deadline=None)
        if os.environ.get('KDJAX_WIDE_PROPERTIES') == '1'
        else settings(max_examples=40, deadline=None, derandomize=True,
                      database=None))
finite = st.floats(-20, 20, allow_nan=False, width=32)
# A few fixed shapes: each new shape compiles every op of the loss again
# (36 shapes took 65 s of the suite; the values carry the search).
logits = hnp.arrays(np.float32, st.sampled_from([(1, 2), (2, 6), (5, 3), (6, 6)]),
                    elements=finite)


@FAST
@given(logits, st.floats(0.5, 30), st.data())
def test_kd_soft_term_is_non_negative_and_zero_iff_same_distribution(
    student, temperature, data):
  teacher = data.draw(hnp.arrays(np.float32, student.shape, elements=finite))
  labels = jnp.zeros(student.shape[0], jnp.int32)
  soft = float(kd.kd_loss(student, teacher, labels, temperature=temperature,
                              alpha=0.0))
  assert soft >= -1e-5
  shift = data.draw(st.floats(-5, 5, width=32))
  same = float(kd.kd_loss(student, student + shift, labels,
                              temperature=temperature, alpha=0.0))
  assert abs(same) < 1e-4  # softmax is shift-invariant: same distribution
  p_s = np.asarray(jnp.exp(jnp.asarray(student) / temperature))
  p_t = np.asarray(jnp.exp(jnp.asarray(teacher) / temperature))
  p_s, p_t = p_s / p_s.sum(-1, keepdims=True), p_t / p_t.sum(-1, keepdims=True)
  if np.abs(p_s - p_t).max() > 0.05:
    assert soft > 0


embeddings = hnp.arrays(np.float32, st.sampled_from([(3, 1), (4, 5), (8, 2)]),
                        elements=st.floats(-10, 10, width=32), unique=True)


@FAST
@given(embeddings, st.floats(0.1, 50), st.randoms(use_true_random=False))
def test_rkd_distance_invariant_to_scale_and_permutation(student, scale, rnd):
  teacher = np.roll(student, 1, axis=0) * 2 + 1
  base = float(rkd.distance_loss(student, teacher))
  assert np.isfinite(base) and base >= 0
  scaled = float(rkd.distance_loss(student * scale, teacher))
  assert abs(scaled - base) <= 1e-3 * max(1.0, base)
  perm = list(range(len(student)))
  rnd.shuffle(perm)
  permuted = float(rkd.distance_loss(student[perm], teacher[perm]))
  assert abs(permuted - base) <= 1e-4 * max(1.0, base)


@FAST
@given(st.integers(0, 500), st.integers(0, 500))
def test_mcnemar_symmetric_and_p_in_unit_interval(n01, n10):
  ab, ba = stats.mcnemar_counts(n01, n10), stats.mcnemar_counts(n10, n01)
  assert ab.p_value == ba.p_value and ab.chi2 == ba.chi2
  for p in (ab.p_chi2, ab.p_exact):
    assert 0.0 <= p <= 1.0


@FAST
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_is_monotone_and_bounded(p_values):
  adjusted = stats.holm(p_values)
  assert all(a >= p - 1e-12 and a <= 1.0 for a, p in zip(adjusted, p_values))
  order = np.argsort(p_values, kind='stable')
  assert np.all(np.diff(np.asarray(adjusted)[order]) >= -1e-12)
