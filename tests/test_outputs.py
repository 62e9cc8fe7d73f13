"""A run's files are written whole or not at all; a full disk is one line."""

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from kdjax import errors
from kdjax import outputs
from kdjax import train
from tests.conftest import REPO
from tests.test_main import TINY, assert_one_line_error
from tests.test_train import tiny_config


def _disk_full(code=errno.ENOSPC):
  """A savez_compressed that writes part of the file, then finds no space."""
  def savez(f, **arrays):
    del arrays
    f.write(b'PK\x03\x04 half a zip')
    raise OSError(code, os.strerror(code))
  return savez


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EDQUOT], ids=['ENOSPC', 'EDQUOT'])
def test_a_full_disk_names_the_file_and_leaves_the_old_one(tmp_path, monkeypatch, code):
  """Issue 26, item 9: was a traceback of OSError, exit 1."""
  path = str(tmp_path / 'predictions' / 'test.npz')
  outputs.write_predictions(path, [1, 0], np.eye(2))
  monkeypatch.setattr(outputs.np, 'savez_compressed', _disk_full(code))
  with pytest.raises(errors.OutputError) as raised:
    outputs.write_predictions(path, [0, 0], np.zeros((2, 2)))
  assert str(raised.value) == (
      f'{path} could not be written ({os.strerror(code)}); no partial file was '
      'left: free some space and run the same command again, it resumes')
  assert os.listdir(tmp_path / 'predictions') == ['test.npz']  # no temporary file
  assert list(outputs.read_predictions(path)['labels']) == [1, 0]  # the old one


def test_other_write_errors_stay_what_they_are(tmp_path, monkeypatch):
  monkeypatch.setattr(outputs.os, 'replace', lambda a, b: (_ for _ in ()).throw(
      PermissionError(errno.EACCES, 'Permission denied')))
  with pytest.raises(PermissionError):
    outputs.write_json(str(tmp_path / 'm.json'), {})
  assert os.listdir(tmp_path) == []


def test_a_run_that_found_the_disk_full_resumes(tmp_path, monkeypatch):
  workdir = str(tmp_path / 'run')
  config = tiny_config()
  monkeypatch.setattr(outputs.np, 'savez_compressed', _disk_full())
  with pytest.raises(errors.OutputError, match=r'predictions/test.npz could not be written'):
    train.train_and_evaluate(config, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'predictions'))) == []
  assert not os.path.exists(os.path.join(workdir, 'metrics.json'))
  monkeypatch.undo()
  metrics = train.train_and_evaluate(config, workdir)  # the same command again
  assert metrics['finished'] and len(metrics['history']) == 2
  assert os.path.exists(os.path.join(workdir, 'predictions', 'test.npz'))


def test_a_full_disk_is_one_line_from_the_command_line(tmp_path):
  """The run's first file, config.json, meets a full disk (before training)."""
  full = ('import errno, os, runpy, sys\n'
          'def replace(a, b): raise OSError(errno.ENOSPC, "No space left on device")\n'
          'os.replace = replace\n'
          'sys.argv = ["kdjax.main"] + sys.argv[1:]\n'
          'runpy.run_module("kdjax.main", run_name="__main__")\n')
  result = subprocess.run(
      [sys.executable, '-c', full, '--config=configs/mnist/student.py',
       f'--workdir={tmp_path}/run', *TINY], cwd=REPO, capture_output=True, text=True,
      timeout=300)
  assert_one_line_error(result, f'{tmp_path}/run/config.json could not be written '
                        '(No space left on device)', 'run the same command again, it resumes')
  assert not [f for f in os.listdir(tmp_path / 'run') if f.startswith('.tmp-')]


def test_summary_writer_writes_without_importing_torch(tmp_path):
  """tensorboardX imports torch only to accept its tensors; a fresh process
  that writes TensorBoard scalars stays without it, and torch still imports."""
  import subprocess
  import sys
  code = ('import sys; from kdjax import outputs; '
          f'w = outputs.summary_writer({str(tmp_path)!r}); w.add_scalar("train/loss", 1.5, 1); '
          'w.close(); print("torch" in sys.modules); import importlib.util; '
          'print(importlib.util.find_spec("torch") is None or __import__("torch") is not None)')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=True, timeout=120).stdout.split()
  assert out == ['False', 'True']
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path))
