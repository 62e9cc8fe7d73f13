"""kdjax.analysis.stats against textbook values and independent computations."""

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as scipy_stats

from kdjax import errors
from kdjax.analysis import stats


@pytest.mark.parametrize('improved,degraded,chi2,p', [
    # The comparison study's Table 4 (printed precision).
    (73, 77, 0.060, 0.81), (23, 16, 0.923, 0.34), (22, 25, 0.085, 0.77),
    (60, 34, 6.649, 0.0099),
])
def test_study_table4(improved, degraded, chi2, p):
  r = stats.mcnemar_counts(improved, degraded)
  assert round(r.chi2, 3) == chi2
  digits = 2 if p >= 0.01 else 4
  assert round(r.p_chi2, digits) == p
  assert r.test == 'chi2' and r.significant() == (p < 0.05)


def test_textbook_small_table_uses_exact_test():
  # n01 = 1, n10 = 9: exact two-sided binomial p = 2 * (1 + 10) / 2^10.
  r = stats.mcnemar_counts(1, 9)
  assert r.test == 'exact'
  assert r.p_exact == pytest.approx(22 / 1024)
  assert r.chi2 == pytest.approx(49 / 10)
  assert r.p_value == r.p_exact


def test_no_discordant_pairs():
  r = stats.mcnemar_counts(0, 0)
  assert (r.chi2, r.p_chi2, r.p_exact) == (0.0, 1.0, 1.0) and not r.significant()


def test_random_tables_against_independent_formulas():
  rng = np.random.default_rng(0)
  for _ in range(50):
    b, c = (int(x) for x in rng.integers(0, 80, 2))
    if b + c == 0:
      continue
    r = stats.mcnemar_counts(b, c)
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    assert r.chi2 == pytest.approx(chi2)
    # chi2 with 1 dof: sf(x) = erfc(sqrt(x / 2)).
    assert r.p_chi2 == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)
    k, n = min(b, c), b + c
    exact = min(1.0, 2 * sum(special.comb(n, i, exact=True) for i in range(k + 1)) / 2**n)
    assert r.p_exact == pytest.approx(exact, rel=1e-9)
    assert stats.mcnemar_counts(c, b).p_value == r.p_value  # symmetric in A, B


def test_mcnemar_on_predictions():
  labels = np.array([0, 1, 2, 3, 0, 1])
  a = {'labels': labels, 'logits': np.zeros((6, 4)), 'predictions': np.array([0, 1, 0, 0, 0, 2])}
  b = {'labels': labels, 'logits': np.zeros((6, 4)), 'predictions': np.array([0, 0, 2, 3, 0, 1])}
  r = stats.mcnemar(a, b)
  assert (r.improved, r.degraded) == (3, 1)


@pytest.mark.parametrize('change,match', [
    (lambda p: {**p, 'labels': p['labels'][:-1], 'predictions': p['predictions'][:-1]},
     'A has 4 test labels, B has 3'),
    (lambda p: {**p, 'logits': np.zeros((4, 7))}, 'A has 3 classes, B has 7'),
    (lambda p: {**p, 'labels': np.array([0, 1, 1, 2])}, 'disagree on test label 2'),
])
def test_refuses_different_test_sets(change, match):
  a = {'labels': np.array([0, 1, 2, 2]), 'logits': np.zeros((4, 3)),
       'predictions': np.array([0, 1, 2, 0])}
  with pytest.raises(errors.DataError, match=match):
    stats.mcnemar(a, change(a))


def test_holm_textbook():
  # Holm (1979)-style worked example: p = .01, .04, .03, .005 with m = 4.
  adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
  np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
  assert stats.holm([0.5, 0.9]) == [1.0, 1.0]


def test_wilson_interval_textbook():
  # Wilson (1927) / Newcombe (1998): 81 of 263 -> (0.2553, 0.3662).
  low, high = stats.wilson_interval(81, 263)
  assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
  # About +-0.2 pt at 98.8 % on 10,000 test examples.
  low, high = stats.wilson_interval(9880, 10000)
  assert 0.15 < 100 * (high - low) / 2 < 0.25


def test_seed_summary_t_interval():
  s = stats.seed_summary([98.6, 98.7, 98.8])
  assert s.mean == pytest.approx(98.7) and s.std == pytest.approx(0.1)
  # t_{0.975, 2} = 4.302653
  assert s.high - s.mean == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6)
  assert math.isnan(stats.seed_summary([98.0]).std)


def test_welch_t_test_from_its_formula():
  """t = (mean b - mean a) / sqrt(s_a^2/n_a + s_b^2/n_b), Welch-Satterthwaite df."""
  a, b = [71.1, 70.6, 71.9], [73.3, 72.4, 72.9, 73.8]
  va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
  t = (np.mean(b) - np.mean(a)) / np.sqrt(va + vb)
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  assert stats.welch_t_test(a, b) == pytest.approx(2 * scipy_stats.t.sf(abs(t), df), rel=1e-9)
  assert stats.welch_t_test(b, a) == pytest.approx(stats.welch_t_test(a, b))
  assert stats.welch_t_test([1, 1], [1, 1]) == 1.0 and stats.welch_t_test([1, 1], [2, 2]) == 0.0
  assert np.isnan(stats.welch_t_test([1], [1, 2]))


def test_paired_t_test():
  # Differences 1, 2, 3: t = 2 / (1 / sqrt 3) = 3.4641, 2 dof -> p = 0.0742.
  assert stats.paired_t_test([1, 1, 1], [2, 3, 4]) == pytest.approx(0.07418, abs=1e-4)
  assert stats.paired_t_test([1, 2], [1, 2]) == 1.0
  assert stats.paired_t_test([1, 2], [2, 3]) == 0.0  # constant shift: t infinite


def test_mcnemar_refuses_other_test_fingerprints_with_the_same_labels():
  """Issue 26, item 4: the same labels on other images (two image folders of
  one layout) passed as one test set; the runs' fingerprints tell them apart."""
  labels = np.arange(20) % 10
  def preds(fingerprint=None):
    found = {'labels': labels, 'predictions': labels, 'logits': np.eye(10)[labels]}
    return dict(found, test_fingerprint=fingerprint) if fingerprint else found
  with pytest.raises(errors.DataError, match=(
      'run_a was tested on the test set with fingerprint 1111aaaa, run_b on 2222bbbb; '
      'expected predictions on the same test set')):
    stats.mcnemar(preds('1111aaaa'), preds('2222bbbb'), names=('run_a', 'run_b'))
  assert stats.mcnemar(preds('1111aaaa'), preds('1111aaaa')).p_value == 1.0
  assert stats.mcnemar(preds('1111aaaa'), preds()).p_value == 1.0  # saved before: labels
