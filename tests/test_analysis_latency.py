"""Latency per architecture: interleaved rounds, intervals, ratios."""

import os

import numpy as np
import pytest

from kdjax import outputs
from kdjax import train
from kdjax.analysis import latency
from kdjax.analysis import report
from kdjax.analysis import runs as runs_lib
from tests.test_train import tiny_config


def test_ratio_and_verdict_on_known_times():
  rng = np.random.default_rng(0)
  fast = 1.0 + 0.05 * rng.standard_normal(300)
  times = np.stack([fast, 2.0 * fast + 0.05 * rng.standard_normal(300),
                    fast + 0.05 * rng.standard_normal(300)], axis=1)
  point, low, high = latency.ratio([times], 0, 1)  # how many times faster 0 is than 1
  assert point == pytest.approx(2.0, rel=0.02) and low < point < high
  assert latency.verdict((point, low, high)) == 'faster'
  assert latency.verdict(latency.ratio([times], 1, 0)) == 'slower'
  assert latency.verdict(latency.ratio([times], 0, 2)) == 'no difference'
  low, high = latency.bootstrap_median([times])
  assert (low < np.median(times, axis=0)).all() and (np.median(times, axis=0) < high).all()


@pytest.fixture(scope='module')
def three_runs(tmp_path_factory):
  """teacher_s0, student_s0 and kd-like student_s1: two architectures."""
  root = tmp_path_factory.mktemp('latency')
  for name, hidden, seed in (('teacher_s0', (64, 64), 0), ('student_s0', (16,), 0),
                             ('student_s1', (16,), 1)):
    config = tiny_config(hidden=hidden)
    config.seed = seed
    config.train.epochs = 1
    train.train_and_evaluate(config, str(root / name))
  return root


def test_intervals_include_the_variation_between_processes():
  """Two processes whose machine states differ 1.5x: the pooled interval spans
  both, where one process's interval covers only its own median."""
  rng = np.random.default_rng(1)
  fast = 1.0 + 0.02 * rng.standard_normal((200, 1))
  slow = 1.5 + 0.02 * rng.standard_normal((200, 1))
  low, high = latency.bootstrap_median([fast, slow])
  assert low[0] < 1.05 and high[0] > 1.45
  low1, high1 = latency.bootstrap_median([fast])
  assert high1[0] < 1.05


def test_one_measurement_per_architecture_and_report_uses_it(three_runs, tmp_path):
  groups = runs_lib.group(runs_lib.load_glob(str(three_runs / '*')))
  archs = latency.architectures(groups)
  assert sorted(a.runs for a in archs) == [('student',), ('teacher',)]
  result = latency.benchmark(groups, batches=(1, 8), rounds=5, warmup=1)
  assert result['reference'] == ['teacher'] and set(result['batches']) == {'1', '8'}
  rows = {tuple(r['runs']): r for r in result['batches']['1']}
  assert rows[('teacher',)]['speedup_vs_reference'][0] == pytest.approx(1.0)
  low, high = rows[('student',)]['median_ci95']
  assert low <= rows[('student',)]['median_ms'] <= high
  text = latency.markdown(result, 't')
  assert '## Batch 8' in text and 'speed-up vs reference' in text
  path = report.write(groups, str(tmp_path / 'report'), latency=result)
  body = open(path).read()
  assert 'one measurement per architecture' in body
  s = rows[('student',)]['speedup_vs_reference']
  assert f'{s[0]:.2f}× ({s[1]:.2f}–{s[2]:.2f})' in body
  metrics = outputs.read_json(os.path.join(str(three_runs / 'student_s0'), 'metrics.json'))
  assert "this run's own timing" in metrics['latency']['scope']


def test_latency_command_in_fresh_processes(three_runs, tmp_path):
  import subprocess, sys
  from tests.conftest import REPO
  out = tmp_path / 'lat'
  r = subprocess.run([sys.executable, '-m', 'kdjax.analysis', 'latency',
                      f'--runs={three_runs}/*', f'--out={out}', '--processes=2',
                      '--rounds=4', '--warmup=1', '--batches=1'], cwd=REPO,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  result = outputs.read_json(str(out / 'latency.json'))
  assert result['processes'] == 2 and len(result['times_ms']['1']) == 2
  assert len(result['times_ms']['1'][0]) == 4 and (out / 'latency.md').exists()
