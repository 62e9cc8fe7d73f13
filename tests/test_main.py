"""The command line: a run end to end, and bad input as one line, exit 2."""

import gzip
import os
import re
import subprocess
import sys

import pytest

from kdjax import errors
from kdjax import outputs
from kdjax.analysis import runs as runs_lib
from tests.conftest import REPO, write_idx_dir

TINY = ['--config.dataset.name=digits', '--config.train.epochs=1',
        '--config.train.batch_size=128', '--config.train.eval_batch_size=120',
        '--config.model.hidden=(16,)', '--config.latency.repeats=2']


def kdjax(*args, module='kdjax.main'):
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, *fragments):
  assert result.returncode == 2, result.stderr
  assert 'Traceback' not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('kdjax: error: '), result.stderr
  for fragment in fragments:
    assert fragment in last, last


def test_train_then_eval(tmp_path):
  workdir = str(tmp_path / 'run')
  result = kdjax('--config=configs/mnist/student.py', f'--workdir={workdir}', *TINY)
  assert result.returncode == 0, result.stderr
  assert 'epoch 1/1' in result.stderr and 'samples/s' in result.stderr
  os.remove(os.path.join(workdir, 'metrics.json'))
  result = kdjax('--mode=eval', f'--workdir={workdir}')  # config from config.json
  assert result.returncode == 0, result.stderr
  assert outputs.read_json(os.path.join(workdir, 'metrics.json'))['finished'] is True
  assert 'unfinished' not in result.stderr


def test_eval_of_a_killed_run_says_it_is_unfinished(cli, tmp_path):
  """Eval of a run killed before its last step once exited 0 without a
  word, and `analysis report` listed its accuracy as final."""
  workdir = str(tmp_path / 'student_s0')
  train_args = ['--config=configs/mnist/student.py', f'--workdir={workdir}',
                *[a for a in TINY if 'epochs' not in a], '--config.train.epochs=3']
  killed = cli(*train_args, env=dict(os.environ, KDJAX_CRASH_AT='train_epoch_running:3'))
  assert killed.returncode == -9, killed.stderr  # SIGKILL in epoch 3 of 3 (11 steps each)
  result = cli('--mode=eval', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  said = [line for line in result.stderr.splitlines() if 'unfinished run' in line]
  metrics = outputs.read_json(os.path.join(workdir, 'metrics.json'))
  assert metrics['finished'] is False and metrics['evaluated_step'] in (11, 22)
  assert len(said) == 1 and f'evaluating step {metrics["evaluated_step"]} of its 33' in said[0]
  with pytest.raises(errors.DataError, match=re.escape(
      f'{workdir} is an unfinished run (metrics.json: finished false, evaluated at '
      f'step {metrics["evaluated_step"]}); expected finished runs')):
    runs_lib.load_glob(str(tmp_path / '*'))  # what report, tables and claims read


def test_the_cli_server_runs_a_command_line_as_a_process_would(cli, tmp_path):
  """tests/cli_server.py's fork against a fresh interpreter: the same exit
  code, stdout and stderr (here a refusal, which also reads a config file
  relative to the cwd)."""
  args = ('--config=configs/mnist/student.py', f'--workdir={tmp_path}/run',
          '--config.nonsense=1')
  forked, real = cli(*args), kdjax(*args)
  assert (forked.returncode, forked.stdout, forked.stderr) == (
      real.returncode, real.stdout, real.stderr)
  assert real.returncode == 2 and not os.path.exists(tmp_path / 'run')


@pytest.mark.parametrize('override,fragments', [
    ('--config.distill.temprature=4', ["unknown config key 'config.distill.temprature'",
                                       'Did you mean "temperature"']),
    ('--config.nonsense=1', ["unknown config key 'config.nonsense'"]),
    ('--config.train.epochs=ten', ['--config.train.epochs=ten']),
    ('--config.distill.temperature=0', ['distill.temperature=0.0 is invalid']),
    ('--config.distill.alpha=1.2', ['distill.alpha=1.2 is invalid']),
    ('--config.method=magic', ["method='magic' is invalid"]),
    ('--config.model.name=resnet9000', ["model.name='resnet9000' is unknown"]),
    ('--config.dataset.name=imagenet', ["dataset.name='imagenet' is unknown"]),
])
def test_bad_config(cli, tmp_path, override, fragments):
  result = cli('--config=configs/mnist/student.py', f'--workdir={tmp_path}', override)
  assert_one_line_error(result, *fragments)


def test_nan_and_inf_are_refused_before_anything_is_created(cli, tmp_path):
  """Issue 26, item 2: a NaN warm-up trained with the warm-up off, a NaN
  temperature trained and then failed as 'training diverged'."""
  for override, says in (('--config.dkd.warmup_epochs=nan',
                          'dkd.warmup_epochs=nan is invalid; expected a finite number >= 0'),
                         ('--config.distill.temperature=inf', 'distill.temperature=inf is invalid')):
    result = cli('--config=configs/mnist/student.py', f'--workdir={tmp_path}/run', override)
    assert_one_line_error(result, says)
    assert not os.path.exists(tmp_path / 'run')


def test_config_file_that_returns_no_config_dict(cli, tmp_path):
  """Issue 26, item 7: a plain dict was `AttributeError: 'dict' object has no
  attribute 'method'`, exit 1."""
  for returns, name in (('{"method": "none"}', 'dict'), ('None', 'NoneType')):
    (tmp_path / 'c.py').write_text(f'def get_config():\n  return {returns}\n')
    result = cli(f'--config={tmp_path}/c.py', f'--workdir={tmp_path}/run')
    assert_one_line_error(result, f'--config={tmp_path}/c.py cannot be used: its '
                          f'get_config() returned a {name}; expected a ConfigDict')
    assert not os.path.exists(tmp_path / 'run')


def test_missing_data_dir(cli, tmp_path):
  result = cli('--config=configs/mnist/teacher.py', f'--workdir={tmp_path}/run',
               '--config.dataset.data_dir=/no/such/mnist')
  assert_one_line_error(result, "dataset.data_dir='/no/such/mnist' is not a directory")


def test_corrupt_idx_file(cli, tmp_path):
  data_dir = write_idx_dir(str(tmp_path / 'data'))
  with gzip.open(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz'), 'wb') as f:
    f.write(b'\x00\x00\x08\x03garbage')
  result = cli('--config=configs/mnist/teacher.py', f'--workdir={tmp_path}/run',
               f'--config.dataset.data_dir={data_dir}', '--config.dataset.name=fashion_mnist')
  assert_one_line_error(result, 't10k-images-idx3-ubyte.gz', 'truncated')


def test_kd_without_teacher(cli, tmp_path):
  result = cli('--config=configs/mnist/kd.py', f'--workdir={tmp_path}/run', *TINY)
  assert_one_line_error(result, "method='kd' needs a teacher")
  result = cli('--config=configs/mnist/kd.py', f'--workdir={tmp_path}/run', *TINY,
               f'--config.teacher.workdir={tmp_path}/missing')
  assert_one_line_error(result, 'has no checkpoints/ folder')


def test_verbose_shows_the_traceback(cli, tmp_path):
  result = cli('--config=configs/mnist/student.py', f'--workdir={tmp_path}',
               '--config.distill.alpha=2', '--verbose')
  assert result.returncode != 0 and 'Traceback' in result.stderr
