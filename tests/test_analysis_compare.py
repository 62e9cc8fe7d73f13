"""Rows run before and after a change, compared row by row."""

import pytest
from scipy import stats as scipy_stats

from kdjax import errors
from kdjax import outputs
from kdjax.analysis import compare
from tests.test_analysis_report import N, fake_run


def _pairs(tmp_path):
  before, after = str(tmp_path / 'before'), str(tmp_path / 'after')
  for seed in (0, 1, 2):
    fake_run(before, f'student_s{seed}', seed=seed, errors_at=range(10 + seed))
    # after: errors 0..4 fixed, 3 new ones at the end
    fake_run(after, f'student_s{seed}', seed=seed,
             errors_at=list(range(5, 10 + seed)) + [N - 1, N - 2, N - 3])
    fake_run(before, f'kd_s{seed}', seed=seed, method='kd', errors_at=range(4))
  fake_run(after, 'kd_s0', seed=0, method='kd', errors_at=range(4))
  return before, after


def test_rows_are_paired_by_name_and_seed(tmp_path):
  rows = dict(compare.paired_rows(*_pairs(tmp_path), order=('student',)))
  assert list(rows) == ['student', 'kd']  # `order` first, then the rest
  assert [s for s, _, _ in rows['student']] == [0, 1, 2]
  assert [s for s, _, _ in rows['kd']] == [0]  # only seed 0 exists after


def test_table_counts_and_tests(tmp_path):
  text = compare.table(*_pairs(tmp_path), labels=('flax', 'torch'), order=('student',))
  line = next(l for l in text.splitlines() if l.startswith('| student'))
  cells = [c.strip() for c in line.split('|')[1:-1]]
  assert cells[1] == '0,1,2'
  assert cells[4] == f'{100 * 2 / N:+.2f}'  # 2 fewer errors in every seed
  assert cells[5] == '0'  # the same shift in every seed: paired t infinite
  # 5 improved, 3 degraded, exact binomial (fewer than 25 discordant pairs)
  p = scipy_stats.binomtest(5, 8, 0.5).pvalue
  assert cells[6].startswith(f's0: 5/3, {p:.2g} (')
  assert 'kd | 0 |' in text


def test_different_test_sets_are_refused(tmp_path):
  before, after = _pairs(tmp_path)
  path = f'{after}/kd_s0/metrics.json'
  metrics = outputs.read_json(path)
  outputs.write_json(path, dict(metrics, test_fingerprint='0123456789abcdef'))
  metrics = outputs.read_json(f'{before}/kd_s0/metrics.json')
  outputs.write_json(f'{before}/kd_s0/metrics.json', dict(metrics, test_fingerprint='fedcba9876543210'))
  with pytest.raises(errors.DataError, match='different test sets'):
    compare.table(before, after)


def test_runs_saved_before_fingerprints_pair_by_labels(tmp_path):
  before, after = _pairs(tmp_path)
  path = f'{after}/kd_s0/metrics.json'  # after: a fingerprint; before: none
  outputs.write_json(path, dict(outputs.read_json(path), test_fingerprint='0123456789abcdef'))
  assert 'kd | 0 |' in compare.table(before, after)


def test_the_table_names_rows_that_changed_more_than_the_compared_keys(tmp_path):
  """A row whose configs differ beyond the change compared (here KD's
  temperature besides a model key) is listed under the table; where the
  data was read from does not count."""
  before, after = str(tmp_path / 'before'), str(tmp_path / 'after')
  for seed in (0, 1):
    fake_run(before, f'kd_s{seed}', seed=seed, method='kd', errors_at=range(4))
    fake_run(after, f'kd_s{seed}', seed=seed, method='kd', temperature=4.0,
             errors_at=range(3))
    fake_run(before, f'student_s{seed}', seed=seed, errors_at=range(4))
    fake_run(after, f'student_s{seed}', seed=seed, hidden=(800, 801), errors_at=range(4))
  text = compare.table(before, after, compared=('hidden',))
  assert "- kd: `distill.temperature` 20.0 → 4.0" in text
  assert '- student' not in text  # only the compared key (and the data path) differ
  assert 'more than `hidden`' in compare.table(before, before, compared=('hidden',))
