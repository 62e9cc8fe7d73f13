"""Killed runs resume bit-exact; one run per workdir; corrupt checkpoints;
diverging runs. The kill tests SIGKILL a real CLI run (a process of its own,
forked by tests/cli_server.py after the imports) at named points."""

import glob
import json
import os

import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import outputs
from kdjax import train
from kdjax import workdir as workdir_lib

# A FitNet run on the bundled digits: 2 hint epochs, then 3 KD epochs.
FITNET = ['--config=configs/mnist/fitnet.py', '--config.dataset.name=digits',
          '--config.dataset.translate=1', '--config.model.hidden=(24,24,24)',
          '--config.teacher.model.hidden=(64,64)', '--config.fitnet.stage1_epochs=2',
          '--config.train.epochs=3', '--config.train.batch_size=128',
          '--config.train.eval_batch_size=120', '--config.latency.repeats=2']
KILL_POINTS = [
    'train_epoch_running:2',  # in the middle of stage-2 epoch 2
    'checkpoint_writing:3',  # right after a checkpoint write has started
    'stage1_epoch_running:2',  # during FitNet stage 1
    'stage_switch:1',  # between stage 1 and stage 2
    'predictions_written:1',  # writing the outputs (before metrics.json)
]
_TIMING = ('train_seconds', 'compile_seconds', 'stage1_train_seconds', 'latency',
           'teacher_cache_seconds')
_EPOCH_TIMING = ('train_samples_per_sec', 'seconds', 'compile_seconds',
                 'teacher_cache_seconds')


def run_cli(cli, workdir, teacher, crash_at=None):
  """The FitNet run as a process of its own (a fork of the cli server, which
  a SIGKILL ends as it would end a fresh interpreter)."""
  env = dict(os.environ)
  env.pop('KDJAX_CRASH_AT', None)
  if crash_at:
    env['KDJAX_CRASH_AT'] = crash_at
  return cli(*FITNET, f'--workdir={workdir}', f'--config.teacher.workdir={teacher}', env=env)


def comparable(workdir):
  metrics = outputs.read_json(os.path.join(workdir, 'metrics.json'))
  for key in _TIMING:
    metrics.pop(key, None)
  for record in metrics['history'] + metrics['stage1_history']:
    for key in _EPOCH_TIMING:
      record.pop(key, None)
  preds = outputs.read_predictions(os.path.join(workdir, 'predictions', 'test.npz'))
  return metrics, preds


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  config = config_lib.get_base_config()
  config.dataset.update(name='digits', translate=1)
  config.model = config_lib.mlp((64, 64), dropout=0.2)
  config.train.update(epochs=2, batch_size=128, eval_batch_size=120)
  config.latency.repeats = 2
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope='module')
def uninterrupted(cli, teacher, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('straight'))
  result = run_cli(cli, workdir, teacher)
  assert result.returncode == 0, result.stderr
  return comparable(workdir)


@pytest.mark.parametrize('crash_at', KILL_POINTS)
def test_killed_run_resumes_bit_exact(cli, crash_at, teacher, uninterrupted, tmp_path):
  workdir = str(tmp_path / 'run')
  killed = run_cli(cli, workdir, teacher, crash_at)
  assert killed.returncode == -9, killed.stderr  # SIGKILL, nothing cleaned up
  assert not os.path.exists(os.path.join(workdir, 'metrics.json'))
  resumed = run_cli(cli, workdir, teacher)
  assert resumed.returncode == 0, resumed.stderr
  metrics, preds = comparable(workdir)
  want_metrics, want_preds = uninterrupted
  assert metrics == want_metrics
  for key in ('labels', 'logits', 'predictions'):
    np.testing.assert_array_equal(preds[key], want_preds[key])
  assert not os.path.exists(os.path.join(workdir, '.lock'))


def tiny_config(**kwargs):
  config = config_lib.get_base_config()
  config.dataset.update(name='digits', translate=1)
  config.model = config_lib.mlp((16,))
  config.train.update(epochs=2, batch_size=128, eval_batch_size=120)
  config.latency.repeats = 2
  config.optimizer.update(**kwargs)
  return config


def test_unreadable_latest_checkpoint_falls_back(tmp_path, caplog):
  workdir = str(tmp_path)
  config = tiny_config()
  train.train_and_evaluate(config, workdir)
  steps = sorted(int(s) for s in os.listdir(os.path.join(workdir, 'checkpoints')))
  assert len(steps) == 2
  for path in glob.glob(os.path.join(workdir, 'checkpoints', str(steps[-1]), 'state',
                                     '**', '*'), recursive=True):
    if os.path.isfile(path):
      with open(path, 'r+b') as f:
        f.truncate(max(0, os.path.getsize(path) // 3))
  os.remove(os.path.join(workdir, 'metrics.json'))
  config.train.epochs = 3
  metrics = train.train_and_evaluate(config, workdir)
  assert 'unreadable' in caplog.text and 'falling back' in caplog.text
  assert metrics['epochs'] == 3 and metrics['steps'] == 3 * 11


def test_one_process_per_workdir(cli, tmp_path):
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  with workdir_lib.exclusive(workdir):
    result = cli('--config=configs/demo.py:student', f'--workdir={workdir}')
  assert result.returncode == 2
  assert f'is in use by another kdjax process (pid {os.getpid()})' in result.stderr
  assert not os.path.exists(os.path.join(workdir, '.lock'))  # cleaned up


def test_stale_lock_is_taken_over(tmp_path, caplog):
  workdir = str(tmp_path)
  with open(os.path.join(workdir, '.lock'), 'w') as f:
    f.write('999999')  # a process that died without cleaning up
  train.train_and_evaluate(tiny_config(), workdir)
  assert 'taking over the lock of pid 999999' in caplog.text


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
  workdir = str(tmp_path)
  train.train_and_evaluate(tiny_config(name='sgd', learning_rate=0.01), workdir)
  good = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  # The same run continued with a learning rate that diverges (config.json is
  # edited so that the resume check accepts the new rate).
  diverging = tiny_config(name='sgd', learning_rate=1e6)
  diverging.train.epochs = 4
  outputs.write_json(os.path.join(workdir, 'config.json'),
                     json.loads(diverging.to_json()))
  os.remove(os.path.join(workdir, 'metrics.json'))
  with pytest.raises(errors.TrainingDiverged) as error:
    train.train_and_evaluate(diverging, workdir)
  message = str(error.value)
  assert message.startswith('training diverged: mean loss nan in train epoch 3')
  assert f'the last good checkpoint, step {good[-1]}, is kept' in message
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == good
  assert not os.path.exists(os.path.join(workdir, 'metrics.json'))


def test_checkpoints_of_another_config_are_not_overwritten(tmp_path):
  workdir = str(tmp_path)
  train.train_and_evaluate(tiny_config(), workdir)  # Adam
  before = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  sgd = tiny_config(name='sgd')  # config.json edited: the resume check passes
  outputs.write_json(os.path.join(workdir, 'config.json'), json.loads(sgd.to_json()))
  with pytest.raises(errors.CheckpointError, match='none of the checkpoints at steps'):
    train.train_and_evaluate(sgd, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == before


def test_checkpoint_history_matches_its_state_with_a_slow_writer(tmp_path, monkeypatch):
  """Orbax writes the history JSON in a background thread. Slowed down, as on
  a busy machine, it used to save the list after the next epoch had been
  appended: a checkpoint whose history ran ahead of its state, so a resumed
  run skipped an epoch (tests/test_train.py's FitNet resume failed 2/2 at
  load 4-6)."""
  import asyncio
  import orbax.checkpoint as ocp
  from orbax.checkpoint._src.handlers import json_checkpoint_handler as handler
  from kdjax import checkpoint
  from tests.test_train import predictions, tiny_config

  fast = handler.JsonCheckpointHandler._save_fn

  async def slow(self, x, directory):
    await asyncio.sleep(0.5)
    return await fast(self, x, directory)

  monkeypatch.setattr(handler.JsonCheckpointHandler, '_save_fn', slow)
  config = tiny_config()
  config.train.epochs = 4
  config.checkpoint.keep = 4
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  mngr = checkpoint.manager(workdir, create=False)
  steps = sorted(mngr.all_steps())
  assert len(steps) == 4
  for step in steps:
    restored = mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(), history=ocp.args.JsonRestore()))
    assert restored['history'][-1]['step'] == step == int(restored['state']['step'])
  mngr.close()
  # and a resume from the second checkpoint ends as the uninterrupted run
  expected = predictions(workdir)['logits']
  for step in steps[2:]:
    import shutil
    shutil.rmtree(os.path.join(workdir, 'checkpoints', str(step)))
  os.remove(os.path.join(workdir, 'metrics.json'))
  train.train_and_evaluate(config, workdir)
  np.testing.assert_array_equal(predictions(workdir)['logits'], expected)
