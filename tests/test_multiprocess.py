"""Multi-host data parallelism on CPU: 2 processes on loopback == 1 process
with 2 devices, through the real trainer (tests/multiprocess_check.py)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

SCRIPT = os.path.join(REPO, 'tests', 'multiprocess_check.py')


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def start(*args):
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=REPO)
  return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('multihost')
  port = free_port()
  procs = [start('process', tmp / 'two_processes', tmp / f'p{i}.json', i, port)
           for i in range(2)]
  procs.append(start('single', tmp / 'one_process', tmp / 'single.json'))
  for proc in procs:
    try:
      _, stderr = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
      for p in procs:
        p.kill()
      raise
    assert proc.returncode == 0, stderr[-3000:]
  read = lambda name: json.loads((tmp / name).read_text())
  return tmp, read('p0.json'), read('p1.json'), read('single.json')


def test_both_processes_end_with_identical_parameters(runs):
  _, p0, p1, _ = runs
  assert (p0['process_index'], p1['process_index']) == (0, 1)
  assert p0['params_sha256'] == p1['params_sha256']
  untimed = lambda m: [{k: v for k, v in h.items() if 'per_sec' not in k and 'seconds' not in k}
                       for h in m['history']]
  assert untimed(p0) == untimed(p1)


def test_two_processes_train_as_one_process_with_two_devices(runs):
  tmp, p0, _, single = runs
  for key in ('train_loss', 'test_loss'):
    np.testing.assert_allclose([h[key] for h in p0['history']],
                               [h[key] for h in single['history']], rtol=1e-5)
  a = np.load(tmp / 'two_processes' / 'predictions' / 'test.npz')
  b = np.load(tmp / 'one_process' / 'predictions' / 'test.npz')
  np.testing.assert_allclose(a['logits'], b['logits'], atol=1e-4)


def test_the_primary_process_writes_the_run_once(runs):
  tmp, p0, _, _ = runs
  workdir = tmp / 'two_processes'
  written = json.loads((workdir / 'metrics.json').read_text())
  assert written['params_sha256'] == p0['params_sha256']
  assert not (workdir / '.lock').exists()
  assert set(os.listdir(workdir / 'checkpoints')) == {'8', '16'}  # 8 steps per epoch
