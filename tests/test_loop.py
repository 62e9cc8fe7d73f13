"""The loop's plan: decided once from a config, and all the loop is told."""

import inspect
import os

import jax

from kdjax import loop
from kdjax import xla_options
from tests.conftest import REPO
from tests.conftest import load_config


def _config(study, row, **overrides):
  config = load_config(os.path.join(REPO, 'configs', study, f'{row}.py'))
  for key, value in overrides.items():
    section, name = key.split('.')
    config[section][name] = value
  return config


def test_the_plan_carries_each_decision_of_the_config():
  config = _config('cifar10_cnn', 'kd', **{
      'train.batch_size': 64, 'train.eval_batch_size': 500, 'checkpoint.every_epochs': 3,
      'checkpoint.keep': 2, 'distill.teacher_cache': False, 'dataset.flip': False})
  plan = loop.plan(config)
  cpu = jax.default_backend() == 'cpu'
  assert plan.loop == ('python' if cpu else 'scan')  # a CNN pair on CPU
  assert plan.grid == ('unroll' if cpu else 'vmap')
  assert plan.compiler_options == xla_options.for_training(True)
  assert (plan.batch_size, plan.eval_batch_size) == (64, 500)
  assert (plan.checkpoint_every, plan.checkpoint_keep) == (3, 2)
  assert (plan.teacher_cache, plan.flip, plan.translate) == (False, False, config.dataset.translate)


def test_an_mlp_scans_and_an_explicit_loop_kind_is_kept():
  mlp = loop.plan(_config('mnist', 'kd'))
  assert (mlp.loop, mlp.grid, mlp.compiler_options) == ('scan', 'vmap', {})
  assert loop.plan(_config('cifar10_cnn', 'kd', **{'train.loop': 'scan'})).loop == 'scan'


def test_steps_per_epoch_drops_the_last_partial_batch():
  data = type('Data', (), {'train': range(1000)})
  assert loop.plan(_config('mnist', 'kd', **{'train.batch_size': 128})).steps_per_epoch(data) == 7


def test_the_loop_reads_no_config():
  for fn in (loop.run_stage, loop.predictor, loop.teacher_source):
    assert 'config' not in inspect.signature(fn).parameters, fn.__name__
