"""Issue 13: no silent wrong result, no lost result. One test (at least) per
item; each failed before its fix."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import outputs
from kdjax import sweep as sweep_lib
from kdjax import train
from kdjax.analysis import runs as runs_lib
from kdjax.data import images as image_files
from tests.conftest import REPO, write_idx_dir, write_image_folder
from tests.test_train import predictions, tiny_config


def _folder_config(data_dir, **dataset):
  config = tiny_config()
  config.dataset.update(name='image_folder', data_dir=data_dir, translate=0, **dataset)
  config.train.update(epochs=1, batch_size=10, eval_batch_size=10)
  return config


@pytest.fixture(scope='module')
def folder_run(tmp_path_factory):
  """A finished run on a 32x32 image folder (30 train, 20 test images)."""
  root = tmp_path_factory.mktemp('folder')
  data_dir = write_image_folder(str(root / 'data'), per_class=(3, 2))
  workdir = str(root / 'run')
  train.train_and_evaluate(_folder_config(data_dir), workdir)
  return data_dir, workdir


# -- 1, 10: eval never changes what a run's files mean ----------------------
def test_eval_refuses_a_different_config_and_keeps_the_files(folder_run, tmp_path):
  data_dir, workdir = folder_run
  before = outputs.read_json(os.path.join(workdir, 'metrics.json'))
  config = _folder_config(data_dir, test_subset=5)
  with pytest.raises(errors.ConfigError, match=r'holds a run with dataset.test_subset=0; '
                     r'this config has dataset.test_subset=5'):
    train.evaluate_checkpoint(config, workdir)
  assert outputs.read_json(os.path.join(workdir, 'metrics.json')) == before


def test_eval_from_another_location_checks_the_test_set(folder_run, tmp_path):
  data_dir, workdir = folder_run
  run = str(tmp_path / 'copied_run')
  shutil.copytree(workdir, run)
  moved = str(tmp_path / 'moved_data')
  shutil.copytree(data_dir, moved)  # the same images elsewhere: fine
  metrics = train.evaluate_checkpoint(_folder_config(moved), run)
  assert metrics['test_fingerprint'] == outputs.read_json(
      os.path.join(workdir, 'metrics.json'))['test_fingerprint']
  assert metrics['evaluated_step'] == metrics['steps'] == 3
  assert metrics['data_source'] == f'image_folder:{moved}'  # item 19: as given
  other = write_image_folder(str(tmp_path / 'other'), per_class=(3, 3))
  with pytest.raises(errors.DataError, match=r'the test set \(fingerprint \w+\) is not '
                     r"the one .* was evaluated on"):
    train.evaluate_checkpoint(_folder_config(other), run)


def test_eval_records_the_step_it_scored(tmp_path):
  workdir = str(tmp_path / 'run')
  config = tiny_config()
  config.train.epochs = 3
  train.train_and_evaluate(config, workdir)
  newest = os.path.join(workdir, 'checkpoints', '33', 'state')
  for root, _, files in os.walk(newest):  # the newest checkpoint unreadable
    for name in files:
      with open(os.path.join(root, name), 'wb') as f:
        f.write(b'garbage')
  metrics = train.evaluate_checkpoint(config, workdir)
  assert metrics['evaluated_step'] == 22 and metrics['steps'] == 33


# -- 3, 11: reports never pool copies or different data; read every file -----
def test_report_refuses_copies_and_separates_data_sets(folder_run, tmp_path):
  data_dir, workdir = folder_run
  shutil.copytree(workdir, str(tmp_path / 'a_s0'))
  shutil.copytree(workdir, str(tmp_path / 'b_s0'))
  with pytest.raises(errors.DataError, match='hold the same parameters'):
    runs_lib.group(runs_lib.load_glob(str(tmp_path / '*')))
  other = write_image_folder(str(tmp_path / 'data2'), per_class=(4, 3))
  shutil.rmtree(str(tmp_path / 'b_s0'))
  train.train_and_evaluate(_folder_config(other), str(tmp_path / 'b_s0'))
  groups = runs_lib.group(runs_lib.load_glob(str(tmp_path / '*_s0')))
  assert len(groups) == 2  # same config, different test sets: two rows
  # A run saved before test_fingerprint existed joins the fingerprinted runs
  # whose test labels are its own (and only those).
  legacy = str(tmp_path / 'a_s1')
  shutil.copytree(workdir, legacy)
  metrics = outputs.read_json(os.path.join(legacy, 'metrics.json'))
  del metrics['test_fingerprint']
  metrics['params_sha256'] += 'legacy'
  metrics['seed'] = 1
  outputs.write_json(os.path.join(legacy, 'metrics.json'), metrics)
  config = outputs.read_json(os.path.join(legacy, 'config.json'))
  outputs.write_json(os.path.join(legacy, 'config.json'), {**config, 'seed': 1})
  runs = runs_lib.load_glob(str(tmp_path / '*_s[01]'))
  assert {r.data for r in runs if r.path.endswith('a_s1')} == {
      r.data for r in runs if r.path.endswith('a_s0')}
  assert len(runs_lib.group(runs)) == 2


def test_report_refuses_the_same_configuration_and_seed_twice(tmp_path):
  for name in ('t4', 't4.0'):  # temperature: [4, 4.0] in a sweep
    config = tiny_config()
    config.seed = 1 if name == 't4' else 1
    config.optimizer.learning_rate = 2e-3 if name == 't4' else 2e-3
    config.train.epochs = 1
    config.dataset.translate = 0 if name == 't4' else 0
    workdir = str(tmp_path / name)
    train.train_and_evaluate(config, workdir)
    metrics = outputs.read_json(os.path.join(workdir, 'metrics.json'))
    metrics['params_sha256'] += name  # not bit-identical, still the same point
    outputs.write_json(os.path.join(workdir, 'metrics.json'), metrics)
  with pytest.raises(errors.DataError, match='same configuration and seed 1'):
    runs_lib.group(runs_lib.load_glob(str(tmp_path / '*')))


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'keyless'])
def test_damaged_predictions_are_one_line_errors(folder_run, tmp_path, damage):
  run = str(tmp_path / 'run')
  shutil.copytree(folder_run[1], run)
  path = os.path.join(run, 'predictions', 'test.npz')
  if damage == 'truncated':
    raw = open(path, 'rb').read()
    open(path, 'wb').write(raw[:len(raw) // 2])
  elif damage == 'empty':
    open(path, 'wb').close()
  else:
    np.savez(path, logits=np.zeros((3, 10), np.float32))
  with pytest.raises(errors.DataError, match='predictions'):
    runs_lib.load_glob(run)


# -- 4: a sweep re-run with other values refuses its finished points ---------
def test_sweep_refuses_finished_points_of_another_setting(tmp_path):
  sweep = {'config': os.path.join(REPO, 'configs', 'demo.py:student'),
           'grid': {'seed': [0]}, 'set': {'train.epochs': 1}}
  sweep_lib.run_point(sweep, 0, str(tmp_path))
  sweep['set']['optimizer.learning_rate'] = 0.01
  with pytest.raises(errors.ConfigError, match=r'optimizer.learning_rate=0.003, this '
                     r'config has 0.01'):
    sweep_lib.run_point(sweep, 0, str(tmp_path))


@pytest.mark.parametrize('sweep,match', [
    ({'config': 'c.py'}, 'has no grid'),
    ({'config': 'c.py', 'grid': {'seed': []}}, r"grid\['seed'\]=\[\] is invalid"),
    ({'config': 'c.py', 'grid': {'seed': 3}}, r"grid\['seed'\]=3 is invalid"),
])
def test_sweep_file_without_a_usable_grid(sweep, match):
  with pytest.raises(errors.ConfigError, match=match):
    sweep_lib.check_sweep(sweep, 's.py')


# -- 5: the decoded-image cache follows every file of the tree ---------------
def test_image_cache_key_changes_when_a_nested_file_is_removed(tmp_path):
  root = write_image_folder(str(tmp_path / 'data'), per_class=(3, 2))
  splits, _ = image_files.load_image_folder(root, None)
  os.remove(os.path.join(root, 'train', 'cat', '0001.png'))
  again, _ = image_files.load_image_folder(root, None)
  assert len(again['train'][1]) == len(splits['train'][1]) - 1


def test_unwritable_cache_dir_falls_back_to_no_cache(tmp_path, monkeypatch):
  blocker = tmp_path / 'a_file'
  blocker.write_text('')
  monkeypatch.setenv('KDJAX_CACHE_DIR', str(blocker))
  root = write_image_folder(str(tmp_path / 'data'), per_class=(2, 1))
  splits, cache = image_files.load_image_folder(root, None)
  assert cache is None and len(splits['train'][1]) == 20


# -- 7: data that cannot be right ---------------------------------------------
def test_train_and_test_of_different_sizes(tmp_path):
  root = str(tmp_path / 'data')
  write_image_folder(root, per_class=(2, 0), size=32)
  write_image_folder(root + '_t', per_class=(0, 1), size=28)
  shutil.rmtree(os.path.join(root, 'test'))
  shutil.copytree(os.path.join(root + '_t', 'test'), os.path.join(root, 'test'))
  with pytest.raises(errors.DataError, match=r'train images are \(32, 32, 3\), test '
                     r'images \(28, 28, 3\); expected one shape'):
    data_lib.load(_folder_config(root).dataset)


def test_labels_outside_the_classes(tmp_path):
  path = write_idx_dir(str(tmp_path / 'idx'))
  import gzip
  from tests.conftest import idx_bytes
  with gzip.open(os.path.join(path, 't10k-labels-idx1-ubyte.gz'), 'wb') as f:
    f.write(idx_bytes(np.full((32,), 12, np.uint8)))
  config = tiny_config()
  config.dataset.update(name='fashion_mnist', source='idx', data_dir=path)
  with pytest.raises(errors.DataError, match=r'test labels span \[12, 12\]; expected \[0, 10\)'):
    data_lib.load(config.dataset)


def test_images_of_size_zero(tmp_path):
  path = write_idx_dir(str(tmp_path / 'idx'), size=0)
  config = tiny_config()
  config.dataset.update(name='fashion_mnist', source='idx', data_dir=path)
  with pytest.raises(errors.DataError, match=r'expected \[N >= 1, H >= 1'):
    data_lib.load(config.dataset)


def test_translate_as_large_as_the_image(tmp_path):
  config = tiny_config()
  config.dataset.translate = 8
  with pytest.raises(errors.ConfigError, match=r'dataset.translate=8 is invalid; '
                     r'expected fewer pixels than the 8x8 images'):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not os.path.exists(str(tmp_path / 'run'))  # item 15: nothing created


# -- 9: resume with other epochs ---------------------------------------------
def test_resume_with_fewer_epochs_is_refused(tmp_path):
  config = tiny_config()
  train.train_and_evaluate(config, str(tmp_path))
  config.train.epochs = 1
  with pytest.raises(errors.ConfigError, match=r'train.epochs=1 is fewer than the 2 '
                     r'epochs'):
    train.train_and_evaluate(config, str(tmp_path))


def test_resume_with_more_epochs_under_cosine_is_refused(tmp_path):
  config = tiny_config()
  config.optimizer.schedule = 'cosine'
  train.train_and_evaluate(config, str(tmp_path))
  config.train.epochs = 3
  with pytest.raises(errors.ConfigError, match='train.epochs=2, this config has 3'):
    train.train_and_evaluate(config, str(tmp_path))


# -- 13, 14, 15: time of all pieces, the umask, retryable starts ------------
def test_rerun_and_resume_keep_the_time_of_every_piece(tmp_path):
  config = tiny_config()
  config.train.epochs = 3
  first = train.train_and_evaluate(config, str(tmp_path))
  again = train.train_and_evaluate(config, str(tmp_path))  # finished: rerun
  assert again['train_seconds'] == first['train_seconds'] > 0
  assert again['compile_seconds'] == first['compile_seconds'] > 0
  shutil.rmtree(os.path.join(str(tmp_path), 'checkpoints', '33'))
  os.remove(os.path.join(str(tmp_path), 'metrics.json'))
  resumed = train.train_and_evaluate(config, str(tmp_path))  # 2 + 1 epochs
  assert resumed['train_seconds'] > sum(r['seconds'] for r in first['history'][:2])
  assert resumed['compile_seconds'] > first['compile_seconds']


def test_outputs_honour_the_umask(tmp_path):
  old = os.umask(0o022)
  try:
    train.train_and_evaluate(tiny_config(), str(tmp_path))
  finally:
    os.umask(old)
  for name in ('config.json', 'metrics.json', os.path.join('predictions', 'test.npz')):
    assert os.stat(os.path.join(str(tmp_path), name)).st_mode & 0o777 == 0o644, name


def test_a_start_that_failed_before_training_is_retryable(tmp_path):
  config = tiny_config()
  workdir = str(tmp_path)
  outputs.write_json(os.path.join(workdir, 'config.json'),  # a failed start's
                     json.loads(_with(config, batch_size=4096).to_json()))
  train.train_and_evaluate(config, workdir)  # the corrected command runs
  assert outputs.read_json(os.path.join(workdir, 'config.json'))['train'][
      'batch_size'] == 128


def _with(config, **train_keys):
  config = config_lib.from_json(json.loads(config.to_json()))
  config.train.update(**train_keys)
  return config


def test_refused_teacher_leaves_no_workdir(tmp_path):
  config = tiny_config()
  config.method = 'kd'
  config.teacher.workdir = str(tmp_path / 'no_teacher')
  with pytest.raises(errors.CheckpointError):
    train.train_and_evaluate(config, str(tmp_path / 'kd'))
  assert not os.path.exists(str(tmp_path / 'kd'))


def test_read_only_workdir_is_one_line(folder_run, tmp_path):
  run = str(tmp_path / 'run')
  shutil.copytree(folder_run[1], run)
  os.mkdir(os.path.join(run, '.lock'))  # opening the lock fails, as read-only
  with pytest.raises(errors.ConfigError, match='cannot be written'):
    train.evaluate_checkpoint(_folder_config(folder_run[0]), run)


# -- the command line: one line, exit 2 (130 for Ctrl-C) ---------------------
def test_config_files_that_cannot_load_and_help(cli, tmp_path):
  (tmp_path / 'syntax.py').write_text('def get_config(:\n')
  (tmp_path / 'raises.py').write_text('def get_config():\n  raise RuntimeError("boom")\n')
  for config, says in ((tmp_path / 'syntax.py', 'SyntaxError'),
                       (tmp_path / 'raises.py', 'RuntimeError: boom'),
                       (tmp_path / 'missing.py', 'No such file'),
                       (tmp_path, 'Is a directory')):
    r = cli(f'--config={config}', f'--workdir={tmp_path}/w')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith('kdjax: error:') and says in r.stderr
  assert not os.path.exists(f'{tmp_path}/w')
  r = cli('--help')
  assert r.returncode == 0 and '--print_config' in r.stdout
  r = cli('--config=configs/mnist/kd.py', '--print_config')
  assert r.returncode == 0 and "distill.temperature = 20.0  # T of" in r.stdout
  r = cli(module='kdjax.analysis')
  assert r.returncode == 2 and 'no command given; expected one of mcnemar, report' in r.stderr
  (tmp_path / 'afile').write_text('')
  r = cli('report', f'--runs={tmp_path}', f'--out={tmp_path}/afile', module='kdjax.analysis')
  assert r.returncode == 2 and 'is a file; expected a directory' in r.stderr


def test_ctrl_c_is_one_line_and_resumable(tmp_path):
  proc = subprocess.Popen(
      [sys.executable, '-m', 'kdjax.main', '--config=configs/demo.py:teacher',
       '--config.train.epochs=100000', f'--workdir={tmp_path}'], cwd=REPO,
      stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 90
  while time.time() < deadline and not os.path.exists(
      os.path.join(str(tmp_path), 'checkpoints')):
    time.sleep(0.2)
  proc.send_signal(signal.SIGINT)
  try:
    _, stderr = proc.communicate(timeout=60)
  except subprocess.TimeoutExpired:
    proc.kill()
    pytest.fail('still training 60 s after SIGINT: ' + proc.communicate()[1][-3000:])
  assert proc.returncode == 130 and 'Traceback' not in stderr, stderr[-2000:]
  assert stderr.strip().splitlines()[-1] == (
      'kdjax: interrupted; the same command resumes from the last checkpoint')


# -- 17: signs of life --------------------------------------------------------
def test_progress_lines_and_compile_lines(tmp_path, caplog):
  import logging
  caplog.set_level(logging.INFO)
  progress = image_files.Progress('decoding x', 10, 'images', every=0.0)
  for _ in range(10):
    progress.update(1)
  assert 'decoding x: 10/10 images' in caplog.text and 'ETA 0 s' in caplog.text
  train.train_and_evaluate(tiny_config(), str(tmp_path))
  assert 'train: compiling the scan epoch (11 steps of 128)...' in caplog.text
  assert 'train: compiled in' in caplog.text


# -- issue 26, 1: a teacher that changed under a resumed student --------------
def test_resume_refuses_a_teacher_that_changed(tmp_path):
  teacher, teacher_dir = tiny_config(hidden=(48,)), str(tmp_path / 'teacher')
  teacher.train.epochs = 1
  train.train_and_evaluate(teacher, teacher_dir)
  student, kd_dir = tiny_config(), str(tmp_path / 'kd')
  student.method = 'kd'
  student.teacher.update(workdir=teacher_dir, model=config_lib.mlp((48,)))
  student.train.epochs = 1
  first = train.train_and_evaluate(student, kd_dir)
  bound = outputs.read_json(os.path.join(kd_dir, 'teacher.json'))
  assert first['teacher'] == bound and len(bound['sha256']) == 64
  teacher.train.epochs = 2
  train.train_and_evaluate(teacher, teacher_dir)  # the teacher trained further
  student.train.epochs = 2  # resume the student (constant lr: allowed)
  with pytest.raises(errors.ConfigError, match=r'now holds step 22 \(variables sha256 '
                     r'[0-9a-f]{16}\), but .* started distilling from step 11 '):
    train.train_and_evaluate(student, kd_dir)
  assert outputs.read_json(os.path.join(kd_dir, 'teacher.json')) == bound


def test_a_run_saved_before_param_init_resumes_as_flax_initialised(tmp_path):
  """Its config.json has no model.param_init: read as 'flax'. The configs'
  default ('torch') is refused with how to resume; param_init=flax resumes."""
  config, workdir = tiny_config(), str(tmp_path)
  config.model.param_init = 'flax'
  config.train.epochs = 1
  train.train_and_evaluate(config, workdir)
  path = os.path.join(workdir, 'config.json')
  saved = outputs.read_json(path)
  del saved['model']['param_init'], saved['teacher']['model']['param_init']
  outputs.write_json(path, saved)  # as written before the key existed
  torch_init = tiny_config()
  torch_init.train.epochs = 2
  with pytest.raises(errors.ConfigError, match=r"model.param_init='flax', this config has "
                     r"'torch'; expected .* --config.model.param_init=flax resumes it"):
    train.train_and_evaluate(torch_init, workdir)
  torch_init.model.param_init = 'flax'  # the teacher's param_init may differ: spent
  assert train.train_and_evaluate(torch_init, workdir)['steps'] == 22
