"""End-to-end runs on the embedded digits: outputs, determinism, resume, KD."""

import glob
import os

import jax
import numpy as np
import pytest

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import errors
from kdjax import outputs
from kdjax import train


def tiny_config(**model):
  config = config_lib.get_base_config()
  config.dataset.name = 'digits'
  config.dataset.translate = 1
  config.model = config_lib.mlp(**{'hidden': (32,), **model})
  config.train.update(epochs=2, batch_size=128, eval_batch_size=120)
  config.latency.update(warmup=1, repeats=3)
  return config


def predictions(workdir):
  return outputs.read_predictions(os.path.join(workdir, 'predictions', 'test.npz'))


def timeless(history):
  return [{k: v for k, v in r.items() if 'per_sec' not in k and 'seconds' not in k}
          for r in history]


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  config = tiny_config(hidden=(64, 64), dropout=0.2)
  config.train.epochs = 3
  train.train_and_evaluate(config, workdir)
  return workdir


def kd_config(teacher_dir, **kwargs):
  config = tiny_config(**kwargs)
  config.method = 'kd'
  config.distill.update(temperature=4.0, alpha=0.3)
  config.teacher.model = config_lib.mlp((64, 64), dropout=0.2)
  config.teacher.workdir = teacher_dir
  return config


def test_run_writes_its_outputs(teacher_dir):
  metrics = outputs.read_json(os.path.join(teacher_dir, 'metrics.json'))
  preds = predictions(teacher_dir)
  assert preds['labels'].dtype == np.int32 and preds['labels'].shape == (360,)
  assert preds['logits'].dtype == np.float32 and preds['logits'].shape == (360, 10)
  np.testing.assert_array_equal(preds['predictions'], preds['logits'].argmax(-1))
  errors_count = int((preds['predictions'] != preds['labels']).sum())
  assert metrics['test']['errors'] == errors_count
  assert metrics['test']['accuracy'] == pytest.approx(100 * (1 - errors_count / 360))
  assert metrics['test']['accuracy'] > 50  # it learned something in 3 epochs
  assert metrics['params'] == 64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
  assert metrics['epochs'] == 3 and len(metrics['history']) == 3
  assert metrics['history'][-1]['test_accuracy'] == metrics['test']['accuracy']
  assert metrics['latency']['ms_per_sample_mean'] > 0
  assert 'batch 1' in metrics['latency']['method']
  assert metrics['trained_on']['packages']['jax'] == jax.__version__  # kdjax.provenance
  assert outputs.read_json(os.path.join(teacher_dir, 'config.json'))['model']['hidden'] == [64, 64]
  events = glob.glob(os.path.join(teacher_dir, 'tensorboard', 'events.out.tfevents.*'))
  assert events and b'test/accuracy' in open(events[0], 'rb').read()


def test_same_seed_same_result_other_seed_differs(tmp_path):
  config = tiny_config(dropout=0.1)
  runs = []
  for name, seed in (('a', 0), ('b', 0), ('c', 1)):
    config.seed = seed
    train.train_and_evaluate(config, str(tmp_path / name))
    runs.append(predictions(str(tmp_path / name))['logits'])
  np.testing.assert_array_equal(runs[0], runs[1])
  assert not np.array_equal(runs[0], runs[2])


def test_resume_equals_uninterrupted_run(tmp_path):
  """BN + dropout + augmentation: 2 epochs, stop, resume to 4 == 4 straight."""
  config = tiny_config(hidden=(16, 16), dropout=0.1, bn_residual=True)
  config.train.epochs = 4
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  config.train.epochs = 2
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 4
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  np.testing.assert_array_equal(predictions(str(tmp_path / 'straight'))['logits'],
                                predictions(str(tmp_path / 'resumed'))['logits'])
  assert timeless(straight['history']) == timeless(resumed['history'])
  assert straight['test'] == resumed['test']


def test_resume_refuses_a_different_config(tmp_path):
  config = tiny_config()
  train.train_and_evaluate(config, str(tmp_path))
  config.optimizer.learning_rate = 0.5
  with pytest.raises(errors.ConfigError, match='optimizer.learning_rate=0.001'):
    train.train_and_evaluate(config, str(tmp_path))


def test_kd_run_keeps_teacher_out_of_student(teacher_dir, tmp_path):
  before = predictions(teacher_dir)['logits']
  metrics = train.train_and_evaluate(kd_config(teacher_dir), str(tmp_path))
  assert metrics['method'] == 'kd'
  assert metrics['teacher']['workdir'] == os.path.abspath(teacher_dir)
  assert metrics['params'] == 64 * 32 + 32 + 32 * 10 + 10
  np.testing.assert_array_equal(before, predictions(teacher_dir)['logits'])
  mngr = checkpoint.manager(str(tmp_path), create=False)
  state = mngr.restore(mngr.latest_step())['state']
  shapes = {tuple(x.shape) for x in jax.tree.leaves(state['params'])}
  assert (64, 64) not in shapes  # no teacher weights in the student's checkpoint


def test_kd_differs_from_plain_training(teacher_dir, tmp_path):
  train.train_and_evaluate(kd_config(teacher_dir), str(tmp_path / 'kd'))
  train.train_and_evaluate(tiny_config(), str(tmp_path / 'plain'))
  assert not np.array_equal(predictions(str(tmp_path / 'kd'))['logits'],
                            predictions(str(tmp_path / 'plain'))['logits'])


def test_kd_without_teacher_checkpoint(tmp_path):
  with pytest.raises(errors.CheckpointError, match='has no checkpoints/ folder'):
    train.train_and_evaluate(kd_config(str(tmp_path / 'nothing')), str(tmp_path / 's'))


def test_teacher_checkpoint_that_does_not_fit(teacher_dir, tmp_path):
  config = kd_config(teacher_dir)
  config.teacher.model = config_lib.mlp((128, 64))
  with pytest.raises(errors.CheckpointError,
                     match=r"\['params'\]\['dense_0'\]\['bias'\] is \(64,\) in the "
                           r'checkpoint, the model expects \(128,\)'):
    train.train_and_evaluate(config, str(tmp_path))


def test_eval_mode_rewrites_outputs(teacher_dir, tmp_path):
  import shutil
  copy = str(tmp_path / 'copy')
  shutil.copytree(teacher_dir, copy)
  os.remove(os.path.join(copy, 'predictions', 'test.npz'))
  config = tiny_config(hidden=(64, 64), dropout=0.2)
  config.train.epochs = 3
  metrics = train.evaluate_checkpoint(config, copy)
  np.testing.assert_array_equal(predictions(copy)['logits'],
                                predictions(teacher_dir)['logits'])
  trained = outputs.read_json(os.path.join(teacher_dir, 'metrics.json'))
  assert metrics['epochs'] == 3 and metrics['test']['errors'] == trained['test']['errors']
  assert metrics['trained_on'] == trained['trained_on']  # where it trained, not evaluated


def test_a_finished_run_run_again_keeps_the_machine_that_trained_it(teacher_dir, tmp_path):
  """Re-running a finished run trains nothing and rewrites metrics.json: its
  `trained_on` stays the training machine's (kdjax.provenance)."""
  import shutil
  copy = str(tmp_path / 'copy')
  shutil.copytree(teacher_dir, copy)
  path = os.path.join(copy, 'metrics.json')
  metrics = outputs.read_json(path)
  metrics['trained_on'] = dict(metrics['trained_on'], cpu='the machine that trained it')
  outputs.write_json(path, metrics)
  config = tiny_config(hidden=(64, 64), dropout=0.2)
  config.train.epochs = 3
  again = train.train_and_evaluate(config, copy)
  assert again['trained_on']['cpu'] == 'the machine that trained it'
  assert again['history'] == metrics['history']  # nothing trained
  del metrics['trained_on']  # a run trained before machines were recorded
  outputs.write_json(path, metrics)
  assert train.train_and_evaluate(config, copy)['trained_on'] is None  # not this machine


def test_diverging_run_stops_with_one_line(tmp_path):
  config = tiny_config()
  config.optimizer.update(name='sgd', learning_rate=1e6)
  with pytest.raises(errors.TrainingDiverged, match='training diverged: mean loss nan in train epoch 1'):
    train.train_and_evaluate(config, str(tmp_path))


def test_unwritable_workdir(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('')
  with pytest.raises(errors.ConfigError, match='is not a writable directory'):
    train.train_and_evaluate(tiny_config(), str(blocker / 'run'))


# --- FitNets (two stages) and RKD -------------------------------------------

def fitnet_config(teacher_dir, **model):
  config = kd_config(teacher_dir, **{'hidden': (24, 24, 24), **model})
  config.method = 'fitnet'
  config.fitnet.update(hint_layer='hidden_0', guided_layer='hidden_1',
                       stage1_epochs=2)
  return config


def latest(path):
  return max(int(p) for p in os.listdir(os.path.join(path, 'checkpoints'))
             if p.isdigit())


def test_fitnet_trains_the_trunk_then_the_whole_student(teacher_dir, tmp_path):
  from kdjax import models, steps
  config = fitnet_config(teacher_dir)
  metrics = train.train_and_evaluate(config, str(tmp_path))
  student = models.create(config.model, 10)
  init = models.init(student, steps.init_rng(config.seed), (8, 8, 1))['params']
  assert metrics['params'] == models.param_count(init)  # regressor not deployed
  hist = metrics['stage1_history']
  assert len(hist) == 2 and hist[1]['train_loss'] < hist[0]['train_loss']
  mngr = checkpoint.manager(str(tmp_path / 'stage1'), create=False)
  stage1 = mngr.restore(mngr.latest_step())['state']['params']
  assert stage1['method']['regressor']['kernel'].shape == (24, 64)  # guided 24 -> hint 64
  for frozen in ('dense_2', 'head'):  # beyond the guided layer: untouched
    np.testing.assert_array_equal(stage1['student'][frozen]['kernel'],
                                  init[frozen]['kernel'])
  for trained in ('dense_0', 'dense_1'):
    assert not np.array_equal(stage1['student'][trained]['kernel'],
                              init[trained]['kernel'])


def test_fitnet_resumes_in_either_stage(teacher_dir, tmp_path):
  import shutil
  config = fitnet_config(teacher_dir, bn_residual=True)
  straight = str(tmp_path / 'straight')
  train.train_and_evaluate(config, straight)
  expected = predictions(straight)['logits']
  for stage_dir in ('stage1', '.'):  # killed in stage 1, killed in stage 2
    run = str(tmp_path / f'killed_in_{stage_dir.strip(".") or "stage2"}')
    shutil.copytree(straight, run)
    if stage_dir == 'stage1':
      shutil.rmtree(os.path.join(run, 'checkpoints'))
    os.remove(os.path.join(run, 'metrics.json'))
    ckpts = os.path.join(run, stage_dir)
    shutil.rmtree(os.path.join(ckpts, 'checkpoints', str(latest(ckpts))))
    train.train_and_evaluate(config, run)
    np.testing.assert_array_equal(predictions(run)['logits'], expected)


def test_fitnet_layer_that_does_not_exist(teacher_dir, tmp_path):
  config = fitnet_config(teacher_dir)
  config.fitnet.hint_layer = 'hidden_7'
  with pytest.raises(errors.ConfigError,
                     match=r"fitnet.hint_layer='hidden_7' is not a feature of the "
                           r"teacher model; expected one of \['embedding', 'hidden_0'"):
    train.train_and_evaluate(config, str(tmp_path))


def test_rkd_run(teacher_dir, tmp_path):
  config = kd_config(teacher_dir)
  config.method = 'rkd'
  config.distill.update(rkd_distance_weight=100.0, rkd_angle_weight=2.0)
  metrics = train.train_and_evaluate(config, str(tmp_path / 'rkd'))
  assert metrics['method'] == 'rkd' and np.isfinite(metrics['history'][-1]['train_loss'])
  train.train_and_evaluate(tiny_config(), str(tmp_path / 'plain'))
  assert not np.array_equal(predictions(str(tmp_path / 'rkd'))['logits'],
                            predictions(str(tmp_path / 'plain'))['logits'])


def test_bfloat16_kd_run_learns_like_float32(teacher_dir, tmp_path):
  """train.compute_dtype=bfloat16 (student and teacher): float32 checkpoint,
  and the same learning curve as float32 up to bf16 rounding."""
  runs = {}
  for dtype in ('float32', 'bfloat16'):
    config = kd_config(teacher_dir)
    config.train.compute_dtype = dtype
    runs[dtype] = train.train_and_evaluate(config, str(tmp_path / dtype))
  losses = {d: [h['train_loss'] for h in m['history']] for d, m in runs.items()}
  np.testing.assert_allclose(losses['bfloat16'], losses['float32'], rtol=0.05)
  assert losses['bfloat16'] != losses['float32']
  mngr = checkpoint.manager(str(tmp_path / 'bfloat16'), create=False)
  state = mngr.restore(mngr.latest_step())['state']
  assert {a.dtype for a in jax.tree.leaves(state['params'])} == {np.dtype('float32')}


def test_unfinished_teacher_is_refused_unless_allowed(teacher_dir, tmp_path):
  import shutil
  unfinished = str(tmp_path / 'teacher')
  shutil.copytree(teacher_dir, unfinished)
  os.remove(os.path.join(unfinished, 'metrics.json'))  # killed before the end
  config = kd_config(unfinished)
  with pytest.raises(errors.ConfigError, match=r"teacher.workdir='.*' never "
                     r'finished \(no metrics.json of a finished run\); expected a finished'):
    train.train_and_evaluate(config, str(tmp_path / 'kd'))
  assert not os.path.exists(str(tmp_path / 'kd' / 'config.json'))
  config.teacher.allow_unfinished = True
  metrics = train.train_and_evaluate(config, str(tmp_path / 'kd'))
  record = metrics['teacher']
  assert {k: record[k] for k in ('workdir', 'step')} == {'workdir': unfinished, 'step': 33}
  assert record['params_sha256'] == outputs.read_json(
      os.path.join(teacher_dir, 'metrics.json'))['params_sha256']
  assert len(record['sha256']) == 64
