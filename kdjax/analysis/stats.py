"""Statistics on saved predictions: McNemar, Holm, Wilson and t intervals.

scipy does the distributions; this module only arranges the counts. Refer-
ences: McNemar (1947) with Edwards' continuity correction, as the comparison
study's eq. (8) and Dietterich (1998) use; Holm (1979); Wilson (1927).
"""

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import stats

from kdjax import errors

# Below this many discordant pairs the exact binomial test is the one to use.
EXACT_BELOW = 25


@dataclasses.dataclass(frozen=True)
class McNemar:
  """McNemar's test between runs A and B on the same test set.

  improved = n01: wrong in A, right in B; degraded = n10: right in A, wrong
  in B. `p_value` is the one `test` names: 'exact' (two-sided binomial)
  when n01 + n10 < 25, else 'chi2' (continuity-corrected, 1 dof).
  """
  improved: int
  degraded: int
  chi2: float
  p_chi2: float
  p_exact: float
  test: str

  @property
  def p_value(self) -> float:
    return self.p_exact if self.test == 'exact' else self.p_chi2

  def significant(self, level: float = 0.05) -> bool:
    return self.p_value < level


def mcnemar_counts(improved: int, degraded: int) -> McNemar:
  """McNemar's test from the discordant counts n01 (improved), n10 (degraded).

  chi2 = (|n01 - n10| - 1)^2 / (n01 + n10) (study eq. 8). With no discordant
  pair there is no evidence of a difference: chi2 = 0 and both p = 1.
  """
  n = improved + degraded
  if n == 0:
    return McNemar(improved, degraded, 0.0, 1.0, 1.0, 'exact')
  chi2 = (abs(improved - degraded) - 1) ** 2 / n  # as statsmodels, also at n01 = n10
  p_chi2 = float(stats.chi2.sf(chi2, df=1))
  p_exact = float(stats.binomtest(improved, n, 0.5).pvalue)
  return McNemar(improved, degraded, float(chi2), p_chi2, p_exact,
                 'exact' if n < EXACT_BELOW else 'chi2')


def check_same_test_set(a: dict, b: dict, names=('A', 'B')):
  """Refuses two prediction files that are not of the same test set: by
  their runs' recorded 'test_fingerprint' where both have one (it sees the
  images too: two image folders of one layout have the same labels), and
  by their labels."""
  fa, fb = a.get('test_fingerprint'), b.get('test_fingerprint')
  if fa and fb and fa != fb:
    raise errors.DataError(
        f'{names[0]} was tested on the test set with fingerprint {fa}, {names[1]} '
        f'on {fb}; expected predictions on the same test set')
  la, lb = np.asarray(a['labels']), np.asarray(b['labels'])
  if la.shape != lb.shape:
    raise errors.DataError(
        f'{names[0]} has {la.shape[0]} test labels, {names[1]} has {lb.shape[0]}; '
        'expected predictions on the same test set')
  ca, cb = np.shape(a['logits'])[-1], np.shape(b['logits'])[-1]
  if ca != cb:
    raise errors.DataError(
        f'{names[0]} has {ca} classes, {names[1]} has {cb}; expected the same')
  if not np.array_equal(la, lb):
    first = int(np.argmax(la != lb))
    raise errors.DataError(
        f'{names[0]} and {names[1]} disagree on test label {first} ({la[first]} vs '
        f'{lb[first]}); expected predictions on the same test set, in one order')


def mcnemar(a: dict, b: dict, names=('A', 'B')) -> McNemar:
  """McNemar's test between two prediction dicts ({'labels', 'predictions', ...})."""
  check_same_test_set(a, b, names)
  right_a = np.asarray(a['predictions']) == np.asarray(a['labels'])
  right_b = np.asarray(b['predictions']) == np.asarray(b['labels'])
  return mcnemar_counts(int(np.sum(~right_a & right_b)),
                        int(np.sum(right_a & ~right_b)))


def holm(p_values: Sequence[float]) -> list[float]:
  """Holm-Bonferroni adjusted p-values, in the input order.

  The i-th smallest p (0-based) becomes max over j <= i of (m - j) * p_(j),
  capped at 1; reject at level a where the adjusted p < a.
  """
  p = np.asarray(p_values, np.float64)
  m = len(p)
  order = np.argsort(p, kind='stable')
  adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
  out = np.empty(m)
  out[order] = adjusted
  return out.tolist()


def wilson_interval(correct: int, total: int, confidence: float = 0.95):
  """Wilson score interval (low, high) of a proportion correct/total."""
  ci = stats.binomtest(correct, total).proportion_ci(
      confidence_level=confidence, method='wilson')
  return float(ci.low), float(ci.high)


@dataclasses.dataclass(frozen=True)
class SeedSummary:
  """Mean, sample std and t-interval of a metric over n seeds."""
  n: int
  mean: float
  std: float
  low: float
  high: float


def seed_summary(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
  """Mean, std (ddof=1) and the t confidence interval of the mean."""
  x = np.asarray(values, np.float64)
  n, mean = len(x), float(x.mean())
  if n < 2:
    return SeedSummary(n, mean, math.nan, math.nan, math.nan)
  std = float(x.std(ddof=1))
  half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
  return SeedSummary(n, mean, std, mean - half, mean + half)


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
  """Two-sided p-value of the paired t-test of b - a across paired seeds."""
  if len(a) != len(b) or len(a) < 2:
    return math.nan
  diff = np.asarray(b, np.float64) - np.asarray(a, np.float64)
  if np.allclose(diff, diff[0]):  # no spread: t is 0 or infinite
    return 1.0 if np.isclose(diff[0], 0.0) else 0.0
  return float(stats.ttest_rel(b, a).pvalue)


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> float:
  """Two-sided p-value of Welch's unpaired t-test of mean(b) - mean(a): for
  runs whose seeds share nothing (e.g. two frameworks' random streams)."""
  if len(a) < 2 or len(b) < 2:
    return math.nan
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if np.allclose(a, a[0]) and np.allclose(b, b[0]):
    return 1.0 if np.isclose(a[0], b[0]) else 0.0
  return float(stats.ttest_ind(b, a, equal_var=False).pvalue)
