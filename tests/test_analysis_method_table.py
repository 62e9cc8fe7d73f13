"""The method table (kdjax/analysis/method_table.py) on runs whose errors
are placed by hand, against scipy's tests computed here."""

import os

import numpy as np
import pytest
from scipy import stats as scipy_stats

from kdjax import errors
from kdjax import outputs
from kdjax.analysis import compare
from kdjax.analysis import method_table
from tests.test_analysis_report import N, fake_run


def _study(root):
  for seed in (0, 1, 2):
    fake_run(root, f'teacher_s{seed}', seed=seed, hidden=(1200, 1200), errors_at=range(3))
    fake_run(root, f'student_s{seed}', seed=seed, errors_at=range(20 + seed),
             train_seconds=10.0)
    fake_run(root, f'kd_s{seed}', seed=seed, method='kd', errors_at=range(12),
             train_seconds=12.0)
    # dist: the baseline's first 6 errors fixed, 2 + seed new ones
    fake_run(root, f'dist_s{seed}', seed=seed, method='dist',
             errors_at=list(range(6, 20 + seed)) + [N - 1 - i for i in range(2 + seed)],
             train_seconds=14.0)
  return root


def _cells(text, row):
  line = next(l for l in text.splitlines() if l.startswith(f'| {row} |'))
  return [c.strip() for c in line.split('|')[1:-1]]


def test_rows_tests_and_order(tmp_path):
  text = method_table.table(_study(str(tmp_path)))
  rows = [l.split('|')[1].strip() for l in text.splitlines()[2:]]
  assert rows == ['teacher', 'student', 'kd', 'dist']  # the registry's order
  dist = _cells(text, 'dist')
  acc = [100 * (1 - (16 + 2 * s) / N) for s in (0, 1, 2)]
  assert dist[3] == f'{np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f}'
  low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean(acc),
                                     scale=np.std(acc, ddof=1) / np.sqrt(3))
  assert dist[4] == f'{low:.2f}–{high:.2f}'
  # vs the baseline: 6 improved, 2 + s degraded (exact binomial: < 25 discordant)
  p0 = scipy_stats.binomtest(6, 8, 0.5).pvalue
  assert dist[6].startswith(f's0: 6/2, {p0:.2g} (')
  # vs KD (errors 0..11): dist fixes 0..5 and breaks 12..19 and the tail's 2
  assert dist[8].startswith('s0: 6/10, ')
  assert dist[9] == '14'
  assert _cells(text, 'student')[5] == '—'  # the baseline is not compared with itself
  # Holm over the 9 McNemar tests (dist and kd against the baseline, dist against kd)
  assert text.count('s0:') == 3
  some = method_table.table(str(tmp_path), rows=('student', 'kd', 'missing'))
  assert [l.split('|')[1].strip() for l in some.splitlines()[2:]] == ['student', 'kd']


def test_missing_reference_rows_refuse(tmp_path):
  root = str(tmp_path)
  fake_run(root, 'student_s0', seed=0, errors_at=range(5))
  with pytest.raises(errors.ConfigError, match="has no 'kd' runs"):
    method_table.table(root)


def test_a_seed_whose_runs_name_two_teachers_refuses(tmp_path):
  root = str(tmp_path)
  fake_run(root, 'student_s0', seed=0, errors_at=range(20))
  fake_run(root, 'kd_s0', seed=0, method='kd', errors_at=range(12),
           teacher={'params_sha256': 'aa' * 32})
  fake_run(root, 'dist_s0', seed=0, method='dist', errors_at=range(10),
           teacher={'params_sha256': 'bb' * 32})
  with pytest.raises(errors.DataError, match='seed 0 has runs of two teachers'):
    method_table.table(root)


def test_a_redrawn_seed_replaces_that_seed_of_its_rows(tmp_path):
  """Seed 2 re-drawn: its teacher and rows come from the re-drawn runs; the
  committed seed-2 runs of that teacher are left out, the baseline stays."""
  found = _study(str(tmp_path / 'committed'))
  for seed in (0, 1, 2):  # the committed runs name the committed teachers
    for row in ('kd', 'dist'):
      path = os.path.join(found, f'{row}_s{seed}', 'metrics.json')
      outputs.write_json(path, dict(outputs.read_json(path),
                                    teacher={'params_sha256': f'{seed}' * 64}))
  again = str(tmp_path / 'redrawn')
  fake_run(again, 'teacher_s2', seed=2, hidden=(1200, 1200), errors_at=range(4),
           params_sha256='ee' * 32)
  fake_run(again, 'kd_s2', seed=2, method='kd', errors_at=range(30),
           teacher={'params_sha256': 'ee' * 32})
  with pytest.raises(errors.DataError, match='seed 2 has runs of two teachers'):
    method_table.table({**compare.by_row(found), 'kd': {
        **compare.by_row(found)['kd'], **compare.by_row(again)['kd']}})
  merged = method_table.redrawn(compare.by_row(found), compare.by_row(again))
  assert sorted(merged) == ['kd', 'student', 'teacher']  # dist has no re-drawn seed 2
  assert merged['kd'][2].path == os.path.join(again, 'kd_s2')
  assert merged['kd'][0].path == os.path.join(found, 'kd_s0')
  text = method_table.table(merged)
  kd = _cells(text, 'kd')
  acc = [100 * (1 - e / N) for e in (12, 12, 30)]
  assert kd[2] == '0,1,2' and kd[3] == f'{np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f}'
  assert kd[6].split('; ')[2].startswith('s2: 0/8, ')  # student_s2 errs at 0..21


def test_the_teacher_rows_own_params_name_its_seeds_teacher(tmp_path):
  root = str(tmp_path)
  fake_run(root, 'teacher_s0', seed=0, hidden=(1200, 1200), params_sha256='cc' * 32)
  fake_run(root, 'student_s0', seed=0, errors_at=range(20))
  fake_run(root, 'kd_s0', seed=0, method='kd', errors_at=range(12),
           teacher={'params_sha256': 'dd' * 32})
  with pytest.raises(errors.DataError, match='seed 0 has runs of two teachers'):
    method_table.table(root)


def test_the_method_table_script_shows_a_redrawn_seed_once_it_has_kd(tmp_path, monkeypatch):
  """experiments/method_table.py: the re-drawn section waits for the
  re-drawn teacher and KD; then the two seeds' runs are compared."""
  import importlib.util
  spec = importlib.util.spec_from_file_location('method_table_script', os.path.join(
      os.path.dirname(__file__), '..', 'experiments', 'method_table.py'))
  script = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(script)
  monkeypatch.setattr(script, 'RESULTS', str(tmp_path))
  _study(str(tmp_path / 'mnist' / 'runs'))
  again = str(tmp_path / 'mnist' / 'redrawn' / 'runs')
  fake_run(again, 'teacher_s2', seed=2, hidden=(1200, 1200), errors_at=range(4))
  script.main('mnist')
  text = open(tmp_path / 'methods' / 'mnist.md').read()
  assert '| dist |' in text and 're-drawn' not in text  # no KD from the re-drawn teacher yet
  fake_run(again, 'kd_s2', seed=2, method='kd', errors_at=range(30))
  script.main('mnist')
  text = open(tmp_path / 'methods' / 'mnist.md').read()
  section = text[text.index('## Seed 2 re-drawn'):]
  assert '| teacher | 2 | ' in section and '| kd | 2 | ' in section  # committed → re-drawn
  assert 's2: 0/18, ' in section  # KD's committed seed 2 errs at 0..11, the re-drawn at 0..29
  assert '| dist |' not in section  # dist has no re-drawn seed 2
