"""The study scripts of experiments/: what they collect, and how they mark
a run whose wall time covers only its last segment."""

import importlib.util
import json
import os
import shutil
import subprocess

from kdjax.analysis import runs as runs_lib
from tests.conftest import REPO


def test_run_study_collects_small_outputs_without_machine_paths(tmp_path, shared_mnist):
  os.symlink(os.path.join(REPO, 'configs'), tmp_path / 'configs')
  runs = str(tmp_path / 'runs_dir')
  result = subprocess.run(
      ['bash', os.path.join(REPO, 'experiments', 'run_study.sh'), 'mnist', '0', 'teacher', 'kd'],
      cwd=tmp_path, capture_output=True, text=True, timeout=600,
      env={**os.environ, 'RUNS_DIR': runs, 'DATA_DIR': shared_mnist,
           'RESULTS': 'scratch', 'EXTRA': '--config.runlocal=True'})
  assert result.returncode == 0, result.stderr[-2000:]
  for row in ('teacher', 'kd'):
    out = tmp_path / 'experiments' / 'results' / 'scratch' / 'runs' / f'{row}_s0'
    assert sorted(os.listdir(out)) == ['config.json', 'metrics.json', 'predictions',
                                       'wall_seconds.txt']
    assert runs not in (out / 'config.json').read_text() + (out / 'metrics.json').read_text()
    seconds, resumed = runs_lib.read_wall(str(out))
    assert seconds >= 0 and not resumed
  kd_config = json.loads((out / 'config.json').read_text())
  assert kd_config['teacher']['workdir'] == '$RUNS_DIR/teacher'
  # Rows a+b+c as one program of those not yet collected (kd is), each
  # collected as its own row; a row it trained but did not collect is
  # collected when the command runs again.
  command = ['bash', os.path.join(REPO, 'experiments', 'run_study.sh'), 'mnist', '0',
             'kd+dist+dkd']
  env = {**os.environ, 'RUNS_DIR': runs, 'DATA_DIR': shared_mnist, 'RESULTS': 'scratch',
         'EXTRA': '--config.runlocal=True'}
  program = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                           timeout=600, env=env)
  assert program.returncode == 0, program.stderr[-2000:]
  assert '== dist+dkd (seed 0):' in program.stdout
  results = tmp_path / 'experiments' / 'results' / 'scratch' / 'runs'
  dist_metrics = json.loads((results / 'dist_s0' / 'metrics.json').read_text())
  assert dist_metrics['grid']['methods'] == ['dist', 'dkd'] and dist_metrics['seed'] == 0
  assert runs not in (results / 'dist_s0' / 'metrics.json').read_text()
  shutil.rmtree(results / 'dkd_s0')  # as if stopped between training and collecting
  again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env)
  assert again.returncode == 0 and '== kd+dist+dkd (seed 0): collected, skipped' in again.stdout
  assert json.loads((results / 'dkd_s0' / 'metrics.json').read_text())['method'] == 'dkd'
  assert 'grid' not in json.loads((out / 'metrics.json').read_text())  # kd: kept as it was
  again = subprocess.run(
      ['bash', os.path.join(REPO, 'experiments', 'run_study.sh'), 'mnist', '0', 'teacher'],
      cwd=tmp_path, capture_output=True, text=True, timeout=60,
      env={**os.environ, 'RUNS_DIR': runs, 'RESULTS': 'scratch'})
  assert again.returncode == 0 and '== teacher (seed 0): collected, skipped' in again.stdout


def test_a_resumed_run_is_marked_and_shown_as_a_lower_bound(tmp_path):
  fresh, resumed = tmp_path / 'fresh', tmp_path / 'resumed'
  (fresh / 'checkpoints').mkdir(parents=True)  # made at the start, no step saved
  (resumed / 'checkpoints' / '2340').mkdir(parents=True)
  script = f'source {REPO}/experiments/collect.sh; resumed {fresh}; echo "|"; resumed {resumed}'
  out = subprocess.run(['bash', '-c', script], capture_output=True, text=True, check=True).stdout
  before, after = out.split('|')
  assert before.strip() == '' and 'last segment only' in after
  for path, text, shown in ((fresh, '471\n', '471'), (resumed, '450\n' + after, '≥ 450')):
    (path / 'wall_seconds.txt').write_text(text)
    run = runs_lib.Run(str(path), {}, {}, '')
    assert run.wall() == shown
  assert runs_lib.Run(str(tmp_path), {}, {}, '').wall() == '—'


def test_method_table_refuses_a_teacher_other_than_the_committed_one(tmp_path):
  """run_method_table.sh distils from a re-trained teacher only if it is the
  committed teacher of its seed, bit for bit."""
  (tmp_path / 'teacher').mkdir()
  (tmp_path / 'teacher' / 'metrics.json').write_text(json.dumps({
      'params_sha256': 'ab' * 32, 'trained_on': {
          'device': 'cpu: cpu', 'cpu': 'AMD EPYC 7B13', 'cpu_features': ['avx2'], 'packages': {}}}))
  result = subprocess.run(
      ['bash', os.path.join(REPO, 'experiments', 'run_method_table.sh'), '0'], cwd=REPO,
      capture_output=True, text=True, timeout=60, env={**os.environ, 'RUNS_DIR': str(tmp_path)})
  assert result.returncode == 2
  assert result.stderr.startswith('kdjax: error: the teacher ') and 'abababab' in result.stderr
  assert 'this one on cpu: cpu, AMD EPYC 7B13 (avx2), the committed one on a machine it did ' \
      'not record' in result.stderr  # the committed teacher of seed 0 predates the record
  assert os.listdir(tmp_path) == ['teacher']
  other = subprocess.run(
      ['bash', os.path.join(REPO, 'experiments', 'run_method_table.sh'), '7'], cwd=REPO,
      capture_output=True, text=True, timeout=60, env={**os.environ, 'RUNS_DIR': str(tmp_path)})
  assert other.returncode == 2 and 'no committed teacher of seed 7' in other.stderr
  reduced = subprocess.run(
      ['bash', os.path.join(REPO, 'experiments', 'run_method_table.sh'), '0'], cwd=REPO,
      capture_output=True, text=True, timeout=60,
      env={**os.environ, 'RUNS_DIR': str(tmp_path), 'EXTRA': '--config.runlocal=True'})
  assert reduced.returncode == 2 and 'expected RESULTS=' in reduced.stderr
  assert os.listdir(tmp_path) == ['teacher']


def test_a_redrawn_seed_refuses_the_committed_teacher_and_another_results_folder(tmp_path):
  """REDRAW=1 distils from the teacher trained here only where it is not the
  committed one (then the rows belong beside the committed ones), and only
  from the re-drawn teacher whose rows are collected, once there is one."""
  script = os.path.join(REPO, 'experiments', 'run_method_table.sh')
  runs = os.path.join(REPO, 'experiments', 'results', 'cifar10_cnn')
  committed = os.path.join(runs, 'runs', 'teacher_s0', 'metrics.json')
  (tmp_path / 'teacher').mkdir()
  metrics = tmp_path / 'teacher' / 'metrics.json'
  metrics.write_text(json.dumps({'params_sha256': json.load(open(committed))['params_sha256']}))
  env = {**os.environ, 'RUNS_DIR': str(tmp_path), 'REDRAW': '1'}
  run = lambda seed, **more: subprocess.run(
      ['bash', script, seed], cwd=REPO, capture_output=True, text=True, timeout=60,
      env={**env, **more})
  same = run('0')
  assert same.returncode == 2 and 'this machine re-makes the committed teacher' in same.stderr
  for more in ({'RESULTS': 'elsewhere'}, {'REDRAW': '0'}, {'EXTRA': '--config.runlocal=True'}):
    refused = run('0', **more)
    assert refused.returncode == 2 and 'expected REDRAW=1 alone' in refused.stderr, more
  assert os.path.exists(os.path.join(runs, 'redrawn', 'runs', 'teacher_s2', 'metrics.json'))
  metrics.write_text(json.dumps({'params_sha256': 'ab' * 32}))  # not seed 2's re-drawn one
  other = run('2')
  assert other.returncode == 2 and 'expected the re-drawn teacher whose rows are collected' \
      in other.stderr
  assert os.listdir(tmp_path) == ['teacher']


def _teacher_check():
  spec = importlib.util.spec_from_file_location(
      'teacher_check', os.path.join(REPO, 'experiments', 'teacher_check.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_a_teachers_first_epoch_tells_another_machine_before_the_whole_teacher(tmp_path):
  """run_method_table.sh's probe: the first epoch's losses and accuracies
  against the committed teacher's, bit for bit; then params_sha256."""
  check = _teacher_check()
  committed = os.path.join(REPO, 'experiments', 'results', 'cifar10_cnn', 'runs',
                           'teacher_s2', 'metrics.json')
  first = json.load(open(committed))['history'][0]
  same = tmp_path / 'same.json'
  same.write_text(json.dumps({'history': [dict(first, seconds=1.0)]}))
  assert check.first_epoch(committed, str(same)) is None  # timings may differ
  other = tmp_path / 'other.json'
  other.write_text(json.dumps({'history': [dict(first, train_loss=first['train_loss'] + 1e-7)],
                               'trained_on': {'device': 'cpu: cpu', 'cpu': 'Some CPU',
                                              'cpu_features': ['avx2'], 'packages': {}}}))
  error = check.first_epoch(committed, str(other))
  assert 'this one on cpu: cpu, Some CPU (avx2), the committed one on a machine it did not ' \
      'record' in error and 'expected a machine of the kind' in error
  assert check.params(committed, committed) is None
  retrained = tmp_path / 'retrained.json'
  retrained.write_text(json.dumps({'params_sha256': 'ab' * 32}))
  assert 'has params_sha256 abababababababab' in check.params(committed, str(retrained))
  assert check.redraw_first_epoch(committed, str(other)) is None  # REDRAW=1: the opposite
  assert 're-makes the committed teacher' in check.redraw_first_epoch(committed, str(same))
  assert check.redraw_params(committed, str(retrained)) is None
  assert 're-makes the committed teacher' in check.redraw_params(committed, committed)
  assert check.redrawn_first_epoch(committed, str(same)) is None
  assert 'expected a machine of the kind that trained the re-drawn teacher' in \
      check.redrawn_first_epoch(committed, str(other))
  assert check.main(['first_epoch', committed, str(other)]) == 2
  assert check.main(['nonsense']) == 2
