"""Training and evaluation of one run: `train_and_evaluate(config, workdir)`.

A run trains a student (or a teacher: method 'none'), checkpoints every
`checkpoint.every_epochs`, resumes from its workdir's latest checkpoint, and
ends by writing metrics.json, predictions/test.npz and TensorBoard events.
"""

import functools
import json
import math
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tensorboardX

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import evaluate
from kdjax import models
from kdjax import optim
from kdjax import outputs
from kdjax import steps

# Keys that may change when a run is resumed (they do not change its result).
_RESUMABLE_CHANGES = ('train.epochs', 'train.eval_batch_size', 'checkpoint.',
                      'latency.')


class TrainingDiverged(errors.KdjaxError):
  """The training loss became NaN or infinite."""


def _flat(config_dict, prefix=''):
  flat = {}
  for key, value in config_dict.items():
    if isinstance(value, dict):
      flat.update(_flat(value, f'{prefix}{key}.'))
    else:
      flat[prefix + key] = value
  return flat


def _check_same_run(workdir, config_json):
  """Refuses to resume a workdir whose saved config differs from this one."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  old, new = _flat(outputs.read_json(path)), _flat(config_json)
  for key in sorted(set(old) | set(new)):
    if old.get(key) != new.get(key) and not key.startswith(_RESUMABLE_CHANGES):
      raise errors.ConfigError(
          f'workdir {workdir!r} holds a run with {key}={old.get(key)!r}, this '
          f'config has {new.get(key)!r}; expected the same config to resume, '
          'or a new --workdir')


def _make_workdir(workdir):
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, '.write-test')
    with open(probe, 'w'):
      pass
    os.unlink(probe)
  except OSError as e:
    raise errors.ConfigError(
        f'--workdir={workdir!r} is not a writable directory ({e.strerror})') from None


def _variable_shapes(model, image_shape):
  return jax.eval_shape(functools.partial(
      models.init, model, jax.random.PRNGKey(0), image_shape))


def _log_scalars(writer, record):
  for key, value in record.items():
    if key not in ('epoch', 'step') and isinstance(value, (int, float)):
      writer.add_scalar(key.replace('_', '/', 1), value, record['epoch'])
  writer.flush()


def _finish(workdir, config, data, model, variables, history, extra):
  """Writes predictions/test.npz and metrics.json from final `variables`."""
  predict = jax.jit(functools.partial(
      steps.predict, model=model, mean=data.mean, std=data.std,
      batch_size=config.train.eval_batch_size))
  logits = np.asarray(predict(variables, jnp.asarray(data.test.images)))
  outputs.write_predictions(os.path.join(workdir, 'predictions', 'test.npz'),
                            data.test.labels, logits)
  metrics = {
      'dataset': data.name, 'data_source': data.source,
      'model': config.model.name, 'method': config.method,
      'params': models.param_count(variables['params']),
      'test': evaluate.classification_metrics(logits, data.test.labels),
      'latency': evaluate.latency(model, variables, data.image_shape,
                                  **config.latency),
      'epochs': len(history), 'history': history,
      'jax_version': jax.__version__, **extra}
  if data.validation is not None:
    metrics['validation'] = evaluate.classification_metrics(
        predict(variables, jnp.asarray(data.validation.images)),
        data.validation.labels)
  outputs.write_json(os.path.join(workdir, 'metrics.json'), metrics)
  return metrics


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains the configured run in `workdir` (resuming it) and returns its metrics.

  Args:
    config: a validated-on-entry experiment config (see `kdjax.config`).
    workdir: the run's directory: checkpoints/, config.json, metrics.json,
      predictions/test.npz and tensorboard/ go there.

  Returns:
    The dict written to metrics.json.
  """
  config_lib.validate(config)
  _make_workdir(workdir)
  config_json = json.loads(config.to_json())
  _check_same_run(workdir, config_json)

  num_classes = data_lib.num_classes(config.dataset.name)
  model = models.create(config.model, num_classes)
  teacher = teacher_variables = None
  if config.method != 'none':
    teacher = models.create(config.teacher.model, num_classes)

  data = data_lib.load(config.dataset)
  batch_size, epochs = config.train.batch_size, config.train.epochs
  steps_per_epoch = len(data.train) // batch_size
  if steps_per_epoch == 0:
    raise errors.ConfigError(
        f'train.batch_size={batch_size} exceeds the {len(data.train)} training '
        'examples; expected a smaller batch')
  if teacher is not None:
    teacher_variables = checkpoint.load_variables(
        config.teacher.workdir, _variable_shapes(teacher, data.image_shape))
  tx = optim.create(config.optimizer, steps_per_epoch * epochs)
  state = steps.create_state(
      models.init(model, steps.init_rng(config.seed), data.image_shape), tx,
      config.seed)
  logging.info('%s: %s, %d params; %s, %d train / %d test examples',
               workdir, config.model.name, models.param_count(state.params),
               data.source, len(data.train), len(data.test))

  mngr = checkpoint.manager(workdir, keep=config.checkpoint.keep)
  history = []
  restored = checkpoint.restore_latest(mngr, state)
  if restored is not None:
    state, history = restored
    logging.info('Resumed from step %d (epoch %d).', int(state.step), len(history))
  outputs.write_json(os.path.join(workdir, 'config.json'), config_json)

  hparams = {'temperature': jnp.float32(config.distill.temperature),
             'alpha': jnp.float32(config.distill.alpha)}
  step_fn = functools.partial(
      steps.train_step, model=model, tx=tx, teacher=teacher,
      method=config.method, translate=config.dataset.translate,
      mean=data.mean, std=data.std)
  epoch_fn = jax.jit(functools.partial(
      steps.train_epoch, steps=steps_per_epoch, batch_size=batch_size,
      step_fn=step_fn), donate_argnums=0)
  predict = jax.jit(functools.partial(
      steps.predict, model=model, mean=data.mean, std=data.std,
      batch_size=config.train.eval_batch_size))
  train_x, train_y = jnp.asarray(data.train.images), jnp.asarray(data.train.labels)
  test_x = jnp.asarray(data.test.images)

  start = time.perf_counter()
  compiled = epoch_fn.lower(state, train_x, train_y, teacher_variables,
                            hparams).compile()
  compile_seconds = time.perf_counter() - start
  writer = tensorboardX.SummaryWriter(os.path.join(workdir, 'tensorboard'))
  train_seconds = 0.0
  try:
    for epoch in range(len(history), epochs):
      start = time.perf_counter()
      state, sums = compiled(state, train_x, train_y, teacher_variables, hparams)
      sums = jax.device_get(sums)
      seconds = time.perf_counter() - start
      train_seconds += seconds
      train_loss = float(sums['loss'] / sums['count'])
      if not math.isfinite(train_loss):
        last = mngr.latest_step()
        raise TrainingDiverged(
            f'training diverged: mean loss {train_loss} in epoch {epoch + 1} '
            f'(steps {epoch * steps_per_epoch + 1}-{int(state.step)}); expected a '
            'finite loss (lower optimizer.learning_rate?); ' + (
                f'the last good checkpoint, step {last}, is kept' if last
                else 'no checkpoint was written'))
      variables = steps.model_variables(state.params, state.batch_stats)
      test = evaluate.classification_metrics(predict(variables, test_x),
                                             data.test.labels)
      record = {'epoch': epoch + 1, 'step': int(state.step),
                'train_loss': train_loss,
                'train_accuracy': 100.0 * float(sums['correct'] / sums['count']),
                'test_loss': test['loss'], 'test_accuracy': test['accuracy'],
                'train_samples_per_sec': float(sums['count']) / seconds}
      history.append(record)
      logging.info(
          'epoch %d/%d  loss %.4f  train acc %.2f%%  test acc %.2f%%  '
          '%.0f samples/s', epoch + 1, epochs, train_loss,
          record['train_accuracy'], test['accuracy'],
          record['train_samples_per_sec'])
      _log_scalars(writer, record)
      if (epoch + 1) % config.checkpoint.every_epochs == 0 or epoch + 1 == epochs:
        checkpoint.save(mngr, state, history)
  finally:
    mngr.wait_until_finished()
    mngr.close()
    writer.close()

  extra = {'train_seconds': train_seconds, 'compile_seconds': compile_seconds,
           'steps': int(state.step), 'seed': config.seed}
  if teacher is not None:
    extra['teacher'] = {'workdir': os.path.abspath(config.teacher.workdir)}
  metrics = _finish(workdir, config, data, model,
                    steps.model_variables(state.params, state.batch_stats),
                    history, extra)
  logging.info('%s: test accuracy %.2f%% (%d errors), %d params',
               workdir, metrics['test']['accuracy'], metrics['test']['errors'],
               metrics['params'])
  return metrics


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Rewrites metrics.json and predictions from `workdir`'s latest checkpoint.

  For checkpoints trained elsewhere (e.g. copied from a GPU cluster): the
  history and timings saved with the run are kept; accuracy, predictions and
  latency are recomputed here.
  """
  config_lib.validate(config)
  model = models.create(config.model, data_lib.num_classes(config.dataset.name))
  data = data_lib.load(config.dataset)
  variables = checkpoint.load_variables(
      workdir, _variable_shapes(model, data.image_shape), what='run')
  old_path = os.path.join(workdir, 'metrics.json')
  old = outputs.read_json(old_path) if os.path.exists(old_path) else {}
  history = old.pop('history', [])
  extra = {k: v for k, v in old.items() if k in (
      'train_seconds', 'compile_seconds', 'steps', 'seed', 'teacher')}
  return _finish(workdir, config, data, model, variables, history, extra)
