"""Claims checked on grouped runs: comparisons, verdicts, 'best' and trends."""

import math
import os

import numpy as np
import pytest
from scipy import stats as scipy_stats

from kdjax import errors
from kdjax.analysis import claims
from kdjax.analysis import runs as runs_lib
from tests.test_analysis_report import N, fake_run


def _group(root, name, errors_by_seed, **kw):
  for seed, wrong in errors_by_seed.items():
    fake_run(root, f'{name}_s{seed}', seed=seed, errors_at=wrong, **kw)
  return claims.load_group(name, os.path.join(root, f'{name}_s*'))


def test_compare_counts_discordant_pairs_and_pairs_seeds(tmp_path):
  root = str(tmp_path)
  base = _group(root, 'base', {0: range(0, 60), 1: range(0, 50), 2: range(0, 40)})
  # b fixes the first 30 / 20 / 25 errors of a and adds 5 / 0 / 10 of its own
  b = _group(root, 'b', {0: [*range(30, 60), *range(300, 305)], 1: range(20, 50),
                         2: [*range(25, 40), *range(300, 310)]}, method='kd')
  c = claims.compare(base, b)
  assert c.seeds == [0, 1, 2]
  assert [(r.improved, r.degraded) for _, r in c.tests] == [(30, 5), (20, 0), (25, 10)]
  acc_a = [100 * (1 - e / N) for e in (60, 50, 40)]
  acc_b = [100 * (1 - e / N) for e in (35, 30, 25)]
  assert c.delta == pytest.approx(np.mean(acc_b) - np.mean(acc_a))
  assert c.p_paired == pytest.approx(scipy_stats.ttest_rel(acc_b, acc_a).pvalue)


def test_check_verdicts(tmp_path):
  root = str(tmp_path)
  base = _group(root, 'base', {s: range(0, 80) for s in (0, 1, 2)})
  better = _group(root, 'better', {s: range(0, 20) for s in (0, 1, 2)}, method='kd')
  same = _group(root, 'same', {0: range(1, 81), 1: range(0, 79), 2: range(2, 82)},
                method='kd', temperature=4.0)
  held = claims.check('better is above base', [claims.compare(base, better)], True)
  assert held[0] == '## better is above base: **held**'
  weak = claims.check('same is above base', [claims.compare(base, same)], True)
  assert weak[0] == '## same is above base: **direction only (not significant)**'
  assert claims.check('x', [claims.compare(better, base)], False)[0] == '## x: **not held**'


def test_best_names_the_top_and_tests_it_against_the_runner_up(tmp_path):
  root = str(tmp_path)
  groups = {'T=1': _group(root, 't1', {s: range(0, 60) for s in (0, 1)}, method='kd',
                          temperature=1.0),
            'T=4': _group(root, 't4', {s: range(0, 58) for s in (0, 1)}, method='kd',
                          temperature=4.0),
            'T=16': _group(root, 't16', {s: range(0, 10) for s in (0, 1)}, method='kd',
                           temperature=16.0)}
  lines = claims.best('T=16 is best', groups, 'T=16')
  assert lines[0] == '## T=16 is best: **held**'
  assert 'T=16: 97.50, T=4: 85.50, T=1: 85.00' in lines[2]
  assert 't4 → t16' in lines[3]
  lines = claims.best('T=4 is best', groups, 'T=4')
  assert lines[0] == '## T=4 is best: **not held**'
  assert 'the best is T=16' in lines[3] and 'T=16 is significantly above T=4' in lines[4]


def test_trend_is_the_mean_per_seed_slope_per_doubling_with_a_t_test(tmp_path):
  root = str(tmp_path)
  per_doubling = {0: 4, 1: 3, 2: 5}  # errors removed per doubling of T, per seed
  points = []
  for t in (1, 2, 4, 8, 16):
    k = int(math.log2(t))
    points.append((t, _group(root, f't{t}', {s: range(0, 40 - d * k)
                                              for s, d in per_doubling.items()},
                             method='kd', temperature=float(t))))
  slope, p, slopes = claims.trend(points)
  assert slopes == pytest.approx([100 * d / N for d in (4, 3, 5)])
  assert slope == pytest.approx(1.0)
  # textbook one-sample t: mean 1, sd 0.25 over 3 seeds, t = 1 / (0.25 / sqrt 3)
  t = 1.0 / (0.25 / math.sqrt(3))
  assert p == pytest.approx(2 * scipy_stats.t.sf(t, df=2))


def test_load_group_refuses_two_configurations(tmp_path):
  root = str(tmp_path)
  fake_run(root, 'x_s0', seed=0, method='kd')
  fake_run(root, 'x_s1', seed=1, method='kd', temperature=4.0)
  with pytest.raises(errors.DataError, match='matches runs of 2 configurations'):
    claims.load_group('x', os.path.join(root, 'x_s*'))
  assert len(runs_lib.group(runs_lib.load_glob(os.path.join(root, 'x_s*')))) == 2


def test_claims_refuse_comparisons_of_other_test_sets_and_unfinished_runs(tmp_path):
  """Issue 26, items 4 and 6: the same labels on other images compared, and
  a run evaluated before its last step counted as final."""
  root = str(tmp_path)
  base = _group(root, 'base', {0: range(0, 60)}, test_fingerprint='1111aaaa1111aaaa')
  other = _group(root, 'other', {0: range(0, 30)}, method='kd',
                 test_fingerprint='2222bbbb2222bbbb')
  with pytest.raises(errors.DataError, match=(
      r'base_s0 was tested on the test set with fingerprint 1111aaaa1111aaaa, '
      r'.*other_s0 on 2222bbbb2222bbbb; expected predictions on the same test set')):
    claims.compare(base, other)
  fake_run(root, 'killed_s0', seed=0, method='kd', finished=False, evaluated_step=44)
  with pytest.raises(errors.DataError, match=r'killed_s0 is an unfinished run'):
    claims.load_group('killed', os.path.join(root, 'killed_s*'))
