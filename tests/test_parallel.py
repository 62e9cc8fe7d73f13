"""Data parallelism on 4 forced CPU devices (in a subprocess: the device count
is fixed when JAX starts)."""

import json
import os
import subprocess
import sys

import pytest

from kdjax import errors
from kdjax import parallel
from tests.conftest import REPO


@pytest.fixture(scope='module')
def four_devices(tmp_path_factory):
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, 'tests', 'multidevice_check.py'),
       str(tmp_path_factory.mktemp('multi'))],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_shard_map_step_equals_single_device_step(four_devices):
  assert four_devices['params_moved'] > 1e-3  # the step did something
  assert four_devices['shard_vs_single_params'] < 1e-5
  assert four_devices['shard_vs_single_batch_stats'] < 1e-5  # synchronised BN
  assert four_devices['loss_shard'] == pytest.approx(four_devices['loss_single'], rel=1e-6)
  assert four_devices['count_shard'] == 32


def test_pmap_step_equals_shard_map_step(four_devices):
  assert four_devices['pmap_vs_shard_params'] < 1e-6
  assert four_devices['pmap_vs_shard_batch_stats'] < 1e-6
  assert four_devices['loss_pmap'] == pytest.approx(four_devices['loss_shard'], rel=1e-6)


def test_crd_memory_banks_stay_replicated_and_equal_one_device(four_devices):
  assert four_devices['crd_banks_moved'] > 1e-2
  assert four_devices['crd_banks_shard_vs_single'] < 1e-5
  assert all(z > 0 for z in four_devices['crd_z_shard'])


def test_training_loop_on_four_devices(four_devices):
  teacher_acc, kd_acc = four_devices['loop_accuracies']
  assert teacher_acc > 30 and kd_acc > 10
  assert four_devices['loop_steps'] == 2 * (1437 // 64)


def test_grid_on_four_devices_equals_the_separate_run(four_devices):
  assert four_devices['grid_vs_run_train_loss'] < 1e-4
  assert four_devices['grid_points_differ']


def test_teacher_cache_on_four_devices(four_devices):
  assert four_devices['cache_True_used'] and not four_devices['cache_False_used']
  assert four_devices['cache_vs_forward_logits'] < 1e-4


def test_batch_must_divide_over_devices(four_devices):
  assert four_devices['bad_batch'] == (
      'train.batch_size=30 does not divide over 4 devices; expected a multiple of 4')
  with pytest.raises(errors.ConfigError, match=r'train.devices=1000 but only \d+ devices'):
    parallel.make_mesh(1000)


@pytest.mark.parametrize('mode,env,want', [
    ('auto', {}, False),
    ('auto', {'SLURM_NTASKS': '1'}, False),
    ('auto', {'SLURM_NTASKS': '8'}, True),
    ('auto', {'KDJAX_COORDINATOR': '10.0.0.1:1234'}, True),
    ('no', {'SLURM_NTASKS': '8'}, False),
    ('yes', {}, True),
])
def test_when_a_run_is_distributed(monkeypatch, mode, env, want):
  for key in ('SLURM_NTASKS', 'KDJAX_COORDINATOR'):
    monkeypatch.delenv(key, raising=False)
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  assert parallel.distributed_requested(mode) == want


def test_coordinator_without_process_count_is_refused(monkeypatch):
  monkeypatch.setenv('KDJAX_COORDINATOR', '127.0.0.1:1234')
  monkeypatch.delenv('KDJAX_NUM_PROCESSES', raising=False)
  with pytest.raises(errors.ConfigError, match='KDJAX_NUM_PROCESSES / KDJAX_PROCESS_ID'):
    parallel.initialize_distributed('auto')
