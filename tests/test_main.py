"""The command line: a run end to end, and bad input as one line, exit 2."""

import gzip
import os
import subprocess
import sys

import pytest

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
  assert os.path.exists(os.path.join(workdir, 'metrics.json'))


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
def test_bad_config(tmp_path, override, fragments):
  result = kdjax('--config=configs/mnist/student.py', f'--workdir={tmp_path}',
                 override)
  assert_one_line_error(result, *fragments)


def test_missing_data_dir(tmp_path):
  result = kdjax('--config=configs/mnist/teacher.py', f'--workdir={tmp_path}/run',
                 '--config.dataset.data_dir=/no/such/mnist')
  assert_one_line_error(result, "dataset.data_dir='/no/such/mnist' is not a directory")


def test_corrupt_idx_file(tmp_path):
  data_dir = write_idx_dir(str(tmp_path / 'data'))
  with gzip.open(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz'), 'wb') as f:
    f.write(b'\x00\x00\x08\x03garbage')
  result = kdjax('--config=configs/mnist/teacher.py', f'--workdir={tmp_path}/run',
                 f'--config.dataset.data_dir={data_dir}',
                 '--config.dataset.name=fashion_mnist')
  assert_one_line_error(result, 't10k-images-idx3-ubyte.gz', 'truncated')


def test_kd_without_teacher(tmp_path):
  result = kdjax('--config=configs/mnist/kd.py', f'--workdir={tmp_path}/run', *TINY)
  assert_one_line_error(result, "method='kd' needs a teacher")
  result = kdjax('--config=configs/mnist/kd.py', f'--workdir={tmp_path}/run', *TINY,
                 f'--config.teacher.workdir={tmp_path}/missing')
  assert_one_line_error(result, 'has no checkpoints/ folder')


def test_verbose_shows_the_traceback(tmp_path):
  result = kdjax('--config=configs/mnist/student.py', f'--workdir={tmp_path}',
                 '--config.distill.alpha=2', '--verbose')
  assert result.returncode != 0 and 'Traceback' in result.stderr
