"""Sweeps: grid points, local runs that skip finished points, SLURM arrays."""

import os
import re

import pytest

from kdjax import errors
from kdjax import sweep
from tests.conftest import REPO

GRID = {'config': os.path.join(REPO, 'configs', 'demo.py'),
        'grid': {'distill.temperature': [2, 4.0], 'seed': [0, 1]},
        'set': {'distill.alpha': 0.5}}


def test_points_are_the_grid_in_a_fixed_order():
  names = [name for name, _ in sweep.points(GRID)]
  assert names == ['temperature=2,seed=0', 'temperature=2,seed=1',
                   'temperature=4.0,seed=0', 'temperature=4.0,seed=1']
  config = sweep.point_config(GRID, sweep.points(GRID)[3][1])
  assert (config.distill.temperature, config.seed, config.distill.alpha) == (4.0, 1, 0.5)
  assert isinstance(sweep.point_config(GRID, {'distill.temperature': 2}).distill.temperature,
                    float)


def test_points_that_are_not_a_product():
  """The ResNet study's T line (alpha=0.3) and alpha line (T=4) share one point."""
  lines = [{'distill.temperature': t, 'distill.alpha': 0.3} for t in (1.0, 4.0)] + [
      {'distill.temperature': 4.0, 'distill.alpha': a} for a in (0.1, 0.3, 0.9)]
  spec = {'config': GRID['config'], 'grid': {'seed': [0, 1]}, 'points': lines}
  with pytest.raises(errors.ConfigError, match='names a point twice'):
    sweep.check_sweep(spec, 'lines.py')
  spec['points'] = sweep.one_at_a_time(
      {'distill.temperature': 4.0, 'distill.alpha': 0.3},
      {'distill.temperature': [1.0, 4.0], 'distill.alpha': [0.1, 0.3, 0.9]})
  assert spec['points'] == [lines[0], lines[1], lines[2], lines[4]]  # (4, 0.3) once
  spec['points'] = [lines[0], lines[2], lines[4]]
  sweep.check_sweep(spec, 'lines.py')
  names = [name for name, _ in sweep.points(spec)]
  assert names == ['alpha=0.3,temperature=1.0,seed=0', 'alpha=0.3,temperature=1.0,seed=1',
                   'alpha=0.1,temperature=4.0,seed=0', 'alpha=0.1,temperature=4.0,seed=1',
                   'alpha=0.9,temperature=4.0,seed=0', 'alpha=0.9,temperature=4.0,seed=1']
  with pytest.raises(errors.ConfigError, match="'points' is invalid"):
    sweep.check_sweep({**spec, 'points': [{'seed': 3}]}, 'lines.py')


def test_points_may_name_their_folders():
  spec = {'config': GRID['config'], 'grid': {'seed': [0, 1]},
          'points': [{'name': 'kd', 'method': 'kd'},
                     {'name': 'kd_pairs', 'at.pairs': ('a:b',), 'method': 'kd'}]}
  sweep.check_sweep(spec, 'named.py')
  assert [n for n, _ in sweep.points(spec)] == ['kd,seed=0', 'kd,seed=1',
                                                'kd_pairs,seed=0', 'kd_pairs,seed=1']
  assert 'name' not in sweep.points(spec)[0][1]
  spec['points'] = [{'name': "at ('a:b')", 'method': 'at'}]
  with pytest.raises(errors.ConfigError, match="point name \"at \\('a:b'\\)\" is invalid"):
    sweep.check_sweep(spec, 'named.py')


def test_points_may_bring_their_own_config_files(tmp_path):
  """experiments/sweeps/rows.py: each point is a study row's own config file
  (named after it), the sweep's file is the rest's; --set still applies."""
  spec = sweep.get_sweep_file(os.path.join(REPO, 'experiments', 'sweeps', 'rows.py') +
                              ':cifar10_cnn:student+dist+at')
  spec['set'] = {'seed': 2}
  points = sweep.points(spec)
  assert [n for n, _ in points] == ['student', 'dist', 'at']
  configs = [sweep.point_config(spec, o) for _, o in points]
  assert [c.method for c in configs] == ['none', 'dist', 'at']
  assert [c.seed for c in configs] == [2, 2, 2]
  assert configs[1].dist.temperature == 4.0  # dist.py's own setting
  with pytest.raises(errors.ConfigError, match="point config 3 is invalid"):
    sweep.check_sweep({**spec, 'points': [{'config': 3}]}, 'rows.py')
  with pytest.raises(errors.ConfigError, match="get_sweep\\(\\) raised TypeError"):
    sweep.get_sweep_file(os.path.join(REPO, 'experiments', 'sweeps', 'rows.py'))


def test_unknown_sweep_key():
  with pytest.raises(errors.ConfigError, match="sweep key 'distill.temp' is not"):
    sweep.point_config(GRID, {'distill.temp': 2.0})


@pytest.mark.parametrize('text,says', [
    ('def get_sweep():\n  raise RuntimeError("boom")\n',
     r"sweep '.*s.py': get_sweep\(\) raised RuntimeError: boom; expected a get_sweep\(\)"),
    ('SWEEP = {}\n', r"sweep '.*s.py' has no get_sweep\(\); expected a get_sweep\(\)"),
])
def test_sweep_file_whose_get_sweep_raises_or_is_missing(tmp_path, text, says):
  """Issue 26, item 8: was a traceback, exit 1."""
  (tmp_path / 's.py').write_text(text)
  with pytest.raises(errors.ConfigError, match=says):
    sweep.get_sweep_file(str(tmp_path / 's.py'))


@pytest.mark.parametrize('text,says', [
    ('def get_config():\n  return {"method": "none"}\n', 'get_config() returned a dict'),
    ('def get_config():\n  raise KeyError("x")\n', "get_config() raised KeyError: 'x'"),
    ('X = 1\n', 'has no get_config()'),
])
def test_sweep_config_file_that_cannot_serve(tmp_path, text, says):
  (tmp_path / 'c.py').write_text(text)
  with pytest.raises(errors.ConfigError, match=re.escape(says)):
    sweep.point_config({'config': str(tmp_path / 'c.py'), 'grid': {'seed': [0]}}, {})


def test_sweep_values_of_another_type_or_nan_are_refused_before_any_run(kdjax_sweep, tmp_path):
  with pytest.raises(errors.ConfigError,
                     match=r"sweep key train.epochs='ten' is invalid; expected a value of type int"):
    sweep.point_config(GRID, {'train.epochs': 'ten'})
  path = tmp_path / 'nan.py'
  path.write_text('def get_sweep():\n'
                  f"  return {{'config': {GRID['config'] + ':student'!r},\n"
                  "          'grid': {'distill.alpha': [0.5, float('nan')]}}\n")
  result = kdjax_sweep(f'--sweep={path}', f'--workdir={tmp_path}/runs')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      'kdjax: error: distill.alpha=nan is invalid; expected a number in [0, 1]')
  assert not os.path.exists(tmp_path / 'runs')  # not even the first point ran


def test_sweep_file_that_raises_is_one_line_exit_2(kdjax_sweep, tmp_path):
  (tmp_path / 'raises.py').write_text('def get_sweep():\n  raise RuntimeError("boom")\n')
  result = kdjax_sweep(f'--sweep={tmp_path}/raises.py', f'--workdir={tmp_path}/runs')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
  assert 'get_sweep() raised RuntimeError: boom' in result.stderr.strip().splitlines()[-1]


def write_sweep(tmp_path, vmap=False):
  path = tmp_path / 'tiny.py'
  path.write_text(
      'def get_sweep():\n'
      f"  return {{'config': {os.path.join(REPO, 'configs', 'demo.py') + ':student'!r},\n"
      "          'grid': {'seed': [0, 1]}, 'vmap': " + repr(vmap) + ",\n"
      "          'set': {'model.hidden': (8,), 'train.epochs': 1, 'latency.repeats': 2}}\n")
  return str(path)


@pytest.fixture
def kdjax_sweep(cli):
  """`python -m kdjax.sweep ARGS...` (through the `cli` server)."""
  return lambda *args: cli(*args, module='kdjax.sweep')


def test_local_sweep_runs_each_point_once(kdjax_sweep, tmp_path):
  path, workdir = write_sweep(tmp_path), str(tmp_path / 'runs')
  result = kdjax_sweep(f'--sweep={path}', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(workdir)) == ['seed=0', 'seed=1']
  for run in os.listdir(workdir):
    assert os.path.exists(os.path.join(workdir, run, 'predictions', 'test.npz'))
  again = kdjax_sweep(f'--sweep={path}', f'--workdir={workdir}')
  assert again.returncode == 0 and again.stderr.count('finished, skipped') == 2


def test_slurm_array(kdjax_sweep, tmp_path):
  result = kdjax_sweep(f'--sweep={write_sweep(tmp_path)}', '--workdir=runs/x',
                       '--mode=slurm', '--slurm_gpus=2', '--slurm_partition=gpu',
                       '--set=dataset.translate=0')
  assert result.returncode == 0, result.stderr
  script = result.stdout
  assert '#SBATCH --array=0-1\n' in script and '#SBATCH --gpus-per-task=2' in script
  assert '#SBATCH --partition=gpu' in script
  assert "--mode=task --set=dataset.translate=0 --task=\"$SLURM_ARRAY_TASK_ID\"" in script


def test_task_out_of_range(kdjax_sweep, tmp_path):
  result = kdjax_sweep(f'--sweep={write_sweep(tmp_path)}', '--workdir=runs/x',
                       '--mode=task', '--task=5')
  assert result.returncode == 2 and '--task=5 is invalid; expected 0..1' in result.stderr


def test_vmapped_sweep_writes_every_point(kdjax_sweep, tmp_path):
  path, workdir = write_sweep(tmp_path, vmap=True), str(tmp_path / 'runs')
  result = kdjax_sweep(f'--sweep={path}', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  assert 'grid: 2 students (2 seeds x 1 settings)' in result.stderr
  assert sorted(os.listdir(workdir)) == ['grid', 'seed=0', 'seed=1']
  for run in ('seed=0', 'seed=1'):
    for name in ('config.json', 'metrics.json', 'predictions/test.npz'):
      assert os.path.exists(os.path.join(workdir, run, name))


def test_vmapped_sweep_is_one_slurm_job(kdjax_sweep, tmp_path):
  result = kdjax_sweep(f'--sweep={write_sweep(tmp_path, vmap=True)}',
                       '--workdir=runs/x', '--mode=slurm')
  assert result.returncode == 0, result.stderr
  assert '--array' not in result.stdout and '--mode=local' in result.stdout


ARGS = {'rows.py': ':cifar10_cnn:student+kd+crd'}  # sweep files that take an argument


@pytest.mark.parametrize('name', sorted(
    f for f in os.listdir(os.path.join(REPO, 'experiments', 'sweeps')) if f.endswith('.py')))
def test_every_committed_sweep_file_lists_from_the_command_line(kdjax_sweep, name):
  """Each sweep file loads under `python -m kdjax.sweep`, including those that
  import kdjax.sweep for `one_at_a_time` (once refused: its flags were defined
  twice, by __main__ and by the imported module)."""
  name += ARGS.get(name, '')
  spec = sweep.get_sweep_file(os.path.join(REPO, 'experiments', 'sweeps', name))
  result = kdjax_sweep(f'--sweep=experiments/sweeps/{name}', '--workdir=runs/x',
                       '--mode=list', '--set=teacher.workdir=runs/t')
  assert result.returncode == 0, result.stderr
  assert len(result.stdout.splitlines()) == len(sweep.points(spec))


def test_a_point_whose_metrics_say_unfinished_is_trained_not_skipped(tmp_path, monkeypatch):
  """An eval of a killed point writes metrics.json with finished: false; the
  sweep must resume that point, not log it as finished."""
  name, _ = sweep.points(GRID)[0]
  run_dir = tmp_path / name
  run_dir.mkdir()
  (run_dir / 'metrics.json').write_text('{"finished": false, "evaluated_step": 4}')
  trained = []
  monkeypatch.setattr(sweep.train, 'train_and_evaluate', lambda c, w: trained.append(w))
  sweep.run_point(GRID, 0, str(tmp_path))
  assert trained == [str(run_dir)]
  (run_dir / 'metrics.json').write_text('{"finished": true, "steps": 8}')
  sweep.run_point(GRID, 0, str(tmp_path))  # finished: skipped
  assert trained == [str(run_dir)]
