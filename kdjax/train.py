"""Training and evaluation of one run: `train_and_evaluate(config, workdir)`.

A run trains a student (or a teacher: method 'none'), checkpoints every
`checkpoint.every_epochs`, resumes from its workdir's latest checkpoint, and
ends by writing metrics.json, predictions/test.npz and TensorBoard events.
"""

import contextlib
import fcntl
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
import optax
import tensorboardX

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import evaluate
from kdjax import faults
from kdjax import models
from kdjax import optim
from kdjax import outputs
from kdjax import parallel
from kdjax import steps
from kdjax import teacher_cache
from kdjax import xla_options

# Keys that may change when a run is resumed (they do not change its result).
# (A different train.devices resumes, but not bit-exactly: each shard draws
# its own augmentation and dropout keys.)
_RESUMABLE_CHANGES = ('train.epochs', 'train.eval_batch_size', 'train.devices',
                      'checkpoint.', 'latency.')


# Long epochs ('python' loop) log a progress line at most every 30 s.
_PROGRESS_EVERY_STEPS, _PROGRESS_SECONDS = 20, 30.0


class TrainingDiverged(errors.KdjaxError):
  """The training loss became NaN or infinite."""


# Keys a re-evaluation may change: where the data is read from (the test set
# itself is checked by its fingerprint) and how latency is timed.
_EVAL_CHANGES = ('dataset.data_dir', 'dataset.source', 'dataset.download',
                 'teacher.', 'train.eval_batch_size', 'train.devices',
                 'train.distributed', 'checkpoint.', 'latency.')


def config_changes(workdir, config_json, allowed) -> list:
  """[(key, saved value, new value)] where `workdir`'s config.json (its
  missing keys at their defaults) differs from `config_json`, outside the
  `allowed` key prefixes."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return []
  saved = json.loads(config_lib.from_json(outputs.read_json(path)).to_json())
  old, new = config_lib.flatten(saved), config_lib.flatten(config_json)
  return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
          if old.get(k) != new.get(k) and not k.startswith(allowed)]


def _started(workdir) -> bool:
  """Whether a run in `workdir` trained anything (a checkpoint or outputs)."""
  return any(os.path.exists(os.path.join(workdir, *p)) for p in (
      ('metrics.json',), ('checkpoints',), ('stage1', 'checkpoints')))


def check_same_run(workdir, config_json, bound=False):
  """Refuses to resume a workdir whose saved config differs from this one.

  A config.json of a start that failed before training (no checkpoint) does
  not bind: the corrected command replaces it. Under a schedule that decays
  over the run, train.epochs is part of the run: a longer or shorter run
  would not equal a fresh run of that length. bound=True: the config.json
  binds even without a checkpoint (a grid's points, checkpointed elsewhere).
  """
  if not (bound or _started(workdir)):
    return
  allowed = _RESUMABLE_CHANGES
  if config_json['optimizer']['schedule'] != 'constant':
    allowed = tuple(k for k in allowed if k != 'train.epochs')
  for key, old, new in config_changes(workdir, config_json, allowed):
    raise errors.ConfigError(
        f'workdir {workdir!r} holds a run with {key}={old!r}, this '
        f'config has {new!r}; expected the same config to resume, '
        'or a new --workdir')


def make_workdir(workdir):
  """Creates `workdir`; a one-line error if it cannot be written."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f'.write-test-{os.getpid()}')
    with open(probe, 'w'):
      pass
    os.unlink(probe)
  except OSError as e:
    raise errors.ConfigError(
        f'--workdir={workdir!r} is not a writable directory ({e.strerror})') from None


@contextlib.contextmanager
def exclusive(workdir):
  """Holds `<workdir>/.lock` for one process; the kernel frees it if we die."""
  path = os.path.join(workdir, '.lock')
  try:
    f = open(path, 'a+')
  except OSError as e:
    raise errors.ConfigError(f'workdir {workdir!r} cannot be written ({e.strerror}); '
                             'expected a writable run directory') from None
  with f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      owner = f.read().strip() or 'unknown'
      raise errors.ConfigError(
          f'workdir {workdir!r} is in use by another kdjax process (pid {owner}); '
          'expected one run per workdir') from None
    f.seek(0)
    stale = f.read().strip()
    if stale:
      logging.warning('%s: taking over the lock of pid %s, which is no longer '
                      'running', workdir, stale)
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    try:
      yield
    finally:
      os.unlink(path)
      fcntl.flock(f, fcntl.LOCK_UN)


def variable_shapes(model, image_shape):
  """The shapes of `model`'s variables for images of `image_shape`."""
  return jax.eval_shape(functools.partial(
      models.init, model, jax.random.PRNGKey(0), image_shape))


def log_scalars(writer, record, prefix=''):
  """One TensorBoard point per number in an epoch's `record` (None: no writer)."""
  if writer is None:
    return
  for key, value in record.items():
    if key not in ('epoch', 'step') and isinstance(value, (int, float)):
      writer.add_scalar(prefix + key.replace('_', '/', 1), value, record['epoch'])
  writer.flush()


def predictor(config, data, model):
  """Compiled `predict(variables, uint8 images) -> logits` in eval batches."""
  return jax.jit(functools.partial(
      steps.predict, model=model, mean=data.mean, std=data.std,
      batch_size=config.train.eval_batch_size))


def finish(workdir, config, data, model, variables, history, extra):
  """Writes predictions/test.npz and metrics.json from final `variables`.

  Every process computes them on its own first device (from a host copy of
  the replicated variables); only the primary one writes.
  """
  variables = jax.device_put(jax.device_get(variables))  # on this process's device
  predict = predictor(config, data, model)
  logits = np.asarray(predict(variables, jnp.asarray(data.test.images)))
  if parallel.is_primary():
    outputs.write_predictions(os.path.join(workdir, 'predictions', 'test.npz'),
                              data.test.labels, logits)
  faults.crash_point('predictions_written')
  metrics = {
      'dataset': data.name, 'data_source': data.source,
      'test_fingerprint': data_lib.fingerprint(data.test),
      'model': config.model.name, 'method': config.method,
      'params': models.param_count(variables['params']),
      'params_sha256': models.fingerprint(variables['params']),
      'test': evaluate.classification_metrics(logits, data.test.labels),
      'latency': evaluate.latency(model, variables, data.image_shape,
                                  **config.latency),
      'epochs': len(history), 'history': history,
      'jax_version': jax.__version__, **extra}
  if data.validation is not None:
    metrics['validation'] = evaluate.classification_metrics(
        predict(variables, jnp.asarray(data.validation.images)),
        data.validation.labels)
  if parallel.is_primary():
    outputs.write_json(os.path.join(workdir, 'metrics.json'), metrics)
  return metrics


def epoch_record(epoch, step, sums, test, samples_per_sec) -> dict:
  """One epoch's entry of a run's history, from its train metric sums and
  test metrics."""
  return {'epoch': epoch, 'step': step,
          'train_loss': float(sums['loss'] / sums['count']),
          'train_accuracy': 100.0 * float(sums['correct'] / sums['count']),
          'test_loss': test['loss'], 'test_accuracy': test['accuracy'],
          'train_samples_per_sec': samples_per_sec}


def hparams_of(config) -> dict:
  """The objective's hyper-parameters as arrays (vmappable; see steps)."""
  d = config.distill
  return {'temperature': jnp.float32(d.temperature), 'alpha': jnp.float32(d.alpha),
          'rkd_distance': jnp.float32(d.rkd_distance_weight),
          'rkd_angle': jnp.float32(d.rkd_angle_weight)}


def convolutional(config) -> bool:
  """Whether the run's student or teacher is a convolutional network."""
  return config.model.name in models.CONVOLUTIONAL or (
      config.method != 'none' and config.teacher.model.name in models.CONVOLUTIONAL)


def grid_kind(config) -> str:
  """How a grid's students update in one step: 'vmap', or 'unroll' for
  convolutional models on CPU (a one-off measurement: CIFAR CNN KD 5-point
  grid 2,079 vs 1,216 samples/s; the MLP grid is faster vmapped, 23,097 vs
  20,662)."""
  return 'unroll' if convolutional(config) and jax.default_backend() == 'cpu' else 'vmap'


def loop_kind(config) -> str:
  """How epochs run: 'scan' or 'python' (`train.loop`, 'auto' resolved)."""
  if config.train.loop != 'auto':
    return config.train.loop
  return 'python' if convolutional(config) and jax.default_backend() == 'cpu' else 'scan'


def epoch_runner(kind, steps_per_epoch, batch_size, step_fn, grid=False,
                 compiler_options=None):
  """Compiles one epoch for arguments like the given ones; returns a function
  (state, images, labels, teacher_variables, hparams) -> (state, metric sums).

  'scan': the whole epoch is one program. 'python': one compiled step per
  batch, dispatched without waiting (the host syncs once per epoch, on the
  sums); the same data order and keys as 'scan'. grid=True: a [seeds, points]
  grid of students (`steps.grid_epoch`; `step_fn` a `train_step(grid=...)`).
  `compiler_options`: XLA options of the compiled program (`xla_options`).
  """
  if kind == 'scan':
    epoch = jax.jit(functools.partial(
        steps.grid_epoch if grid else steps.train_epoch, steps=steps_per_epoch,
        batch_size=batch_size, step_fn=step_fn), donate_argnums=0)
    return lambda *args: epoch.lower(*args).compile(compiler_options)
  one_step = functools.partial(steps.indexed_step, step_fn=step_fn)
  batches_of = functools.partial(steps.epoch_batches, steps=steps_per_epoch,
                                 batch_size=batch_size)
  if grid:  # seeds are vmapped; the points of a seed share its batches
    one_step = jax.vmap(one_step, in_axes=(0, None, None, 0, None, 0))
    batches_of = jax.vmap(batches_of, in_axes=(0, None), out_axes=1)
  step = jax.jit(one_step, donate_argnums=0)
  order = jax.jit(batches_of, static_argnums=1)

  def compile_for(state, images, labels, teacher_variables, hparams):
    epoch = jax.eval_shape(order, state, labels.shape[0])
    idx = jax.ShapeDtypeStruct(epoch.shape[1:], epoch.dtype)
    compiled = step.lower(state, images, labels, idx, teacher_variables,
                          hparams).compile(compiler_options)

    def run(state, images, labels, teacher_variables, hparams):
      batches = order(state, labels.shape[0])
      sums = None
      start = last = time.perf_counter()
      for i in range(steps_per_epoch):
        state, metrics = compiled(state, images, labels, batches[i],
                                  teacher_variables, hparams)
        sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
        if (i + 1) % _PROGRESS_EVERY_STEPS == 0 and i + 1 < steps_per_epoch:
          jax.block_until_ready(sums)  # a pause of one dispatch, no change in results
          now = time.perf_counter()
          if now - last >= _PROGRESS_SECONDS:
            last, rate = now, (i + 1) / (now - start)
            logging.info('  step %d/%d of the epoch, %.0f samples/s, ETA %.0f s',
                         i + 1, steps_per_epoch, rate * batch_size,
                         (steps_per_epoch - i - 1) / rate)
      return state, sums
    return run
  return compile_for


def placer(mesh):
  """Puts host values where compiled steps read them: replicated over the
  mesh in a multi-process run (each process supplies its copy), else on
  the default device."""
  if jax.process_count() > 1:
    return functools.partial(parallel.replicate, mesh=mesh)
  return lambda tree: jax.tree.map(jnp.asarray, tree)


def teacher_source(config, data, teacher, teacher_variables, objective, epochs,
                   mesh, build=True):
  """(teacher, its variables, record) for a stage: the teacher module and its
  variables, or a `CachedTeacher` and its output table when the cache rule
  (`teacher_cache.plan`) says so. `record` (None without a teacher) says
  which and why, for the log and metrics.json; build=False decides only."""
  if teacher is None:
    return None, None, None
  batch = config.train.batch_size
  outputs = teacher_cache.OUTPUTS.get(objective.name, ())
  plan = teacher_cache.plan(
      enabled=config.distill.teacher_cache, objective_name=objective.name,
      num_examples=len(data.train), epochs=epochs,
      steps_per_epoch=len(data.train) // batch, batch_size=batch,
      dims=teacher_cache.output_dims(teacher, teacher_variables, data.image_shape,
                                     outputs),
      translate=config.dataset.translate, flip=config.dataset.flip)
  record = {'used': plan.use, 'reason': plan.reason, 'variants': plan.variants,
            'bytes': plan.bytes}
  logging.info('teacher cache %s: %s (%.1f MiB)', 'on' if plan.use else 'off',
               plan.reason, plan.bytes / 2**20)
  if not plan.use or not build:
    return teacher, teacher_variables, record
  table = teacher_cache.build(  # on this process's device, from a host copy
      teacher, jax.device_get(teacher_variables), data.train.images, outputs=outputs,
      translate=config.dataset.translate, flip=config.dataset.flip,
      mean=data.mean, std=data.std, batch_size=batch // mesh.size,
      compiler_options=xla_options.for_training(convolutional(config)))
  return teacher_cache.CachedTeacher(outputs), placer(mesh)(table), record


def run_timing(history, samples_per_epoch) -> dict:
  """Seconds spent on all of a stage's pieces (a resumed run's too), summed
  over its epoch records: training, and the one-off compile and teacher
  cache of each piece. Records saved before `seconds` existed count
  samples / rate."""
  total = lambda key: sum(r.get(key, 0.0) for r in history)
  return {'train_seconds': sum(
              r['seconds'] if 'seconds' in r
              else samples_per_epoch / r['train_samples_per_sec'] for r in history),
          'compile_seconds': total('compile_seconds'),
          'teacher_cache_seconds': total('teacher_cache_seconds')}


def _train_stage(*, name, workdir, state, model, tx, objective, epochs, config,
                 data, teacher, teacher_variables, writer, mesh):
  """Runs (or resumes) one stage to `epochs`; returns (state, history, timing).

  Checkpoints go to `<workdir>/checkpoints`; one log line and one
  TensorBoard point per epoch; a non-finite loss stops the stage.
  """
  batch_size = config.train.batch_size
  steps_per_epoch = len(data.train) // batch_size
  place = placer(mesh)
  state = place(state)
  mngr = checkpoint.manager(workdir, keep=config.checkpoint.keep)
  history = []
  restored = checkpoint.restore_latest(mngr, state)
  if restored is not None:
    state, history = restored
    logging.info('%s: resumed from step %d (epoch %d).', name, int(state.step),
                 len(history))
  if len(history) > epochs:
    key = 'fitnet.stage1_epochs' if name == 'stage1' else 'train.epochs'
    raise errors.ConfigError(
        f'{key}={epochs} is fewer than the {len(history)} epochs {workdir!r} '
        f'has trained; expected at least {len(history)}, or a new --workdir')
  finished = len(history) >= epochs
  start = time.perf_counter()
  teacher, teacher_variables, cache = teacher_source(
      config, data, teacher, teacher_variables, objective, epochs, mesh,
      build=not finished)
  if finished:
    mngr.close()
    return state, history, dict(run_timing(history, steps_per_epoch * batch_size),
                                teacher_cache=cache)

  # One-off costs of this piece, charged to the first epoch it trains.
  overhead = {}
  if cache is not None and cache['used']:
    overhead['teacher_cache_seconds'] = time.perf_counter() - start
  step_fn = functools.partial(
      steps.train_step, model=model, tx=tx, teacher=teacher, objective=objective,
      translate=config.dataset.translate, flip=config.dataset.flip,
      mean=data.mean, std=data.std)
  if mesh.size > 1:
    step_fn = parallel.shard_step(step_fn, mesh)
  epoch_fn = epoch_runner(
      loop_kind(config), steps_per_epoch, batch_size, step_fn,
      compiler_options=xla_options.for_training(convolutional(config)))
  predict = predictor(config, data, model)
  train_x, train_y, test_x, hparams = place((
      data.train.images, data.train.labels, data.test.images, hparams_of(config)))

  logging.info('%s: compiling the %s epoch (%d steps of %d)...', name,
               loop_kind(config), steps_per_epoch, batch_size)
  start = time.perf_counter()
  compiled = epoch_fn(state, train_x, train_y, teacher_variables, hparams)
  overhead['compile_seconds'] = time.perf_counter() - start
  logging.info('%s: compiled in %.1f s', name, overhead['compile_seconds'])
  try:
    for epoch in range(len(history), epochs):
      start = time.perf_counter()
      state, sums = compiled(state, train_x, train_y, teacher_variables, hparams)
      faults.crash_point(f'{name}_epoch_running')  # the epoch runs asynchronously
      sums = jax.device_get(sums)
      seconds = time.perf_counter() - start
      train_loss = float(sums['loss'] / sums['count'])
      if not math.isfinite(train_loss):
        last = mngr.latest_step()
        raise TrainingDiverged(
            f'training diverged: mean loss {train_loss} in {name} epoch '
            f'{epoch + 1} (steps {epoch * steps_per_epoch + 1}-{int(state.step)});'
            ' expected a finite loss (lower the learning rate?); ' + (
                f'the last good checkpoint, step {last}, is kept' if last
                else 'no checkpoint was written'))
      variables = steps.model_variables(state.params, state.batch_stats)
      test = evaluate.classification_metrics(predict(variables, test_x),
                                             data.test.labels)
      record = epoch_record(epoch + 1, int(state.step), sums, test,
                            float(sums['count']) / seconds)
      record.update(seconds=seconds, **overhead)
      overhead = {}
      history.append(record)
      logging.info(
          '%s epoch %d/%d  loss %.4f  train acc %.2f%%  test acc %.2f%%  '
          '%.0f samples/s', name, epoch + 1, epochs, train_loss,
          record['train_accuracy'], test['accuracy'],
          record['train_samples_per_sec'])
      log_scalars(writer, record, '' if name == 'train' else name + '/')
      if (epoch + 1) % config.checkpoint.every_epochs == 0 or epoch + 1 == epochs:
        checkpoint.save(mngr, state, history)
        faults.crash_point('checkpoint_writing')  # Orbax writes asynchronously
  finally:
    mngr.wait_until_finished()
    mngr.close()
  timing = dict(run_timing(history, steps_per_epoch * batch_size), teacher_cache=cache)
  return state, history, timing


def _fitnet_stage1(*, config, workdir, data, student, variables, teacher,
                   teacher_variables, writer, mesh):
  """FitNets stage 1: student trunk + regressor fit the teacher's hint layer.

  Only the student's layers up to `fitnet.guided_layer` and the regressor
  are trained; the rest of the student is frozen. Returns the student's
  variables after the stage and the stage's history.
  """
  fit = config.fitnet
  guided = _feature_shape(student, data.image_shape, 'student',
                          'fitnet.guided_layer', fit.guided_layer)
  hint = _feature_shape(teacher, data.image_shape, 'teacher', 'fitnet.hint_layer',
                        fit.hint_layer)
  if guided.ndim != hint.ndim or guided.shape[1:-1] != hint.shape[1:-1]:
    raise errors.ConfigError(
        f'fitnet.guided_layer={fit.guided_layer!r} has shape {guided.shape[1:]}, '
        f'fitnet.hint_layer={fit.hint_layer!r} has {hint.shape[1:]}; expected '
        'the same rank and spatial size (the regressor maps channels only)')
  model = models.WithRegressor(student, fit.guided_layer, hint.shape[-1])
  init = models.init(model, steps.stage_rng(config.seed, 1), data.image_shape)
  params = {'student': variables['params'], 'regressor': init['params']['regressor']}
  trunk = student.trunk(fit.guided_layer)
  labels = {'student': {k: 'train' if k in trunk else 'frozen'
                        for k in params['student']},
            'regressor': 'train'}
  steps_total = len(data.train) // config.train.batch_size * fit.stage1_epochs
  tx = optax.multi_transform(
      {'train': optim.create(fit.stage1_optimizer, steps_total),
       'frozen': optax.set_to_zero()}, labels)
  stage_vars = {'params': params}
  if variables.get('batch_stats'):
    stage_vars['batch_stats'] = {'student': variables['batch_stats']}
  state = steps.create_state(stage_vars, tx, steps.stage_rng(config.seed, 1))
  state, history, timing = _train_stage(
      name='stage1', workdir=os.path.join(workdir, 'stage1'), state=state,
      model=model, tx=tx, objective=steps.Objective('hint', hint_layer=fit.hint_layer),
      epochs=fit.stage1_epochs, config=config, data=data, teacher=teacher,
      teacher_variables=teacher_variables, writer=writer, mesh=mesh)
  out = {'params': state.params['student']}
  if state.batch_stats:
    out['batch_stats'] = state.batch_stats['student']
  return out, history, timing


def _feature_shape(model, image_shape, who, key, name):
  """Shape of feature `name` of `model` for one image; a clear error if absent."""
  _, features = jax.eval_shape(lambda: model.init_with_output(
      jax.random.PRNGKey(0), jnp.zeros((1, *image_shape)), return_features=True)[0])
  if name not in features:
    raise errors.ConfigError(
        f'{key}={name!r} is not a feature of the {who} model; expected one of '
        f'{sorted(features)}')
  return features[name]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains the configured run in `workdir` (resuming it) and returns its metrics.

  Args:
    config: an experiment config (see `kdjax.config`); validated on entry.
    workdir: the run's directory: checkpoints/, config.json, metrics.json,
      predictions/test.npz and tensorboard/ go there (FitNets stage 1 in
      stage1/).

  Returns:
    The dict written to metrics.json.
  """
  config_lib.validate(config)
  if config.runlocal:
    config = config_lib.runlocal(config)
  parallel.initialize_distributed(config.train.distributed)
  config_json = json.loads(config.to_json())
  check_same_run(workdir, config_json)
  parts = setup(config)  # data and teacher: refused before anything is created
  make_workdir(workdir)
  # Processes of a multi-host run share the workdir: the primary holds it.
  with exclusive(workdir) if parallel.is_primary() else contextlib.nullcontext():
    check_same_run(workdir, config_json)  # no other process started it meanwhile
    return _train_and_evaluate(config, workdir, config_json, parts)


def setup(config):
  """(mesh, student, data, teacher, teacher variables, teacher record) of a
  run; the teacher parts are None for method 'none'. Checks the batch
  against mesh and data, and that the teacher's run finished (unless
  `teacher.allow_unfinished`)."""
  mesh = parallel.make_mesh(config.train.devices)
  parallel.check_batch(config.train.batch_size, mesh.size)
  axis_name = parallel.AXIS if mesh.size > 1 else None
  num_classes = data_lib.num_classes(config.dataset)
  dtype = config.train.compute_dtype
  model = models.create(config.model, num_classes, axis_name=axis_name, dtype=dtype)
  teacher = teacher_variables = teacher_record = None
  if config.method != 'none':
    teacher = models.create(config.teacher.model, num_classes, dtype=dtype)
    finished = _finished_steps(config.teacher.workdir)
  data = data_lib.load(config.dataset)
  if len(data.train) < config.train.batch_size:
    raise errors.ConfigError(
        f'train.batch_size={config.train.batch_size} exceeds the '
        f'{len(data.train)} training examples; expected a smaller batch')
  if teacher is not None:
    variables, step = checkpoint.load_variables(
        config.teacher.workdir, variable_shapes(teacher, data.image_shape))
    if step != finished and not config.teacher.allow_unfinished:
      raise errors.ConfigError(
          f'teacher.workdir={config.teacher.workdir!r} ' + (
              'has no metrics.json: its run never finished' if finished is None
              else f'finished at step {finished} but its newest readable '
              f'checkpoint is step {step}') +
          '; expected a finished teacher run (or teacher.allow_unfinished=True)')
    teacher_variables = placer(mesh)(variables)
    teacher_record = {'workdir': config.teacher.workdir, 'step': step}
  return mesh, model, data, teacher, teacher_variables, teacher_record


def _finished_steps(workdir):
  """The step count a finished run's metrics.json records, else None."""
  path = os.path.join(workdir, 'metrics.json')
  try:
    return int(outputs.read_json(path)['steps'])
  except (OSError, ValueError, KeyError, TypeError):
    return None


def _train_and_evaluate(config, workdir, config_json, parts):
  mesh, model, data, teacher, teacher_variables, teacher_record = parts
  variables = models.init(model, steps.init_rng(config.seed), data.image_shape)
  logging.info('%s: %s, %d params; %s, %d train / %d test examples',
               workdir, config.model.name, models.param_count(variables['params']),
               data.source, len(data.train), len(data.test))
  writer = None
  if parallel.is_primary():
    outputs.write_json(os.path.join(workdir, 'config.json'), config_json)
    writer = tensorboardX.SummaryWriter(os.path.join(workdir, 'tensorboard'))
  extra = {'seed': config.seed}
  stage2_objective = {'none': 'none', 'kd': 'kd', 'fitnet': 'kd', 'rkd': 'rkd'}
  try:
    if config.method == 'fitnet':
      variables, stage1_history, stage1_timing = _fitnet_stage1(
          config=config, workdir=workdir, data=data, student=model,
          variables=variables, teacher=teacher,
          teacher_variables=teacher_variables, writer=writer, mesh=mesh)
      extra.update(stage1_history=stage1_history,
                   stage1_train_seconds=stage1_timing['train_seconds'])
      faults.crash_point('stage_switch')
    tx = optim.create(config.optimizer, len(data.train) //
                      config.train.batch_size * config.train.epochs)
    state = steps.create_state(variables, tx, steps.stage_rng(config.seed))
    objective = steps.Objective(stage2_objective[config.method],
                                rkd_angle=config.distill.rkd_angle_weight > 0)
    state, history, timing = _train_stage(
        name='train', workdir=workdir, state=state, model=model, tx=tx,
        objective=objective, epochs=config.train.epochs, config=config,
        data=data, teacher=teacher, teacher_variables=teacher_variables,
        writer=writer, mesh=mesh)
  finally:
    if writer is not None:
      writer.close()

  extra.update(timing, steps=int(state.step))
  if teacher_record is not None:
    extra['teacher'] = teacher_record
  metrics = finish(workdir, config, data, model,
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
  latency are recomputed here. Only where the data is read from may differ
  from the run's config.json, and the test set must be the one the run
  recorded (its fingerprint), so the files keep meaning what they say.
  """
  config_lib.validate(config)
  changes = config_changes(workdir, json.loads(config.to_json()), _EVAL_CHANGES)
  if changes:
    raise errors.ConfigError(
        f'workdir {workdir!r} holds a run with ' + ', '.join(
            f'{k}={old!r}' for k, old, _ in changes) + '; this config has ' +
        ', '.join(f'{k}={new!r}' for k, _, new in changes) + '; expected the '
        "run's own config (only the data location may change)")
  with exclusive(workdir):
    return _evaluate_checkpoint(config, workdir)


def _evaluate_checkpoint(config, workdir):
  model = models.create(config.model, data_lib.num_classes(config.dataset),
                        dtype=config.train.compute_dtype)
  data = data_lib.load(config.dataset)
  old_path = os.path.join(workdir, 'metrics.json')
  old = outputs.read_json(old_path) if os.path.exists(old_path) else {}
  recorded, found = old.get('test_fingerprint'), data_lib.fingerprint(data.test)
  if recorded and recorded != found:
    raise errors.DataError(
        f'{data.source}: the test set (fingerprint {found}) is not the one '
        f'{workdir!r} was evaluated on ({recorded}); expected the same '
        f'{len(data.test)}-example test set, or a new run')
  variables, step = checkpoint.load_variables(
      workdir, variable_shapes(model, data.image_shape), what='run')
  if 'steps' in old and step != old['steps']:
    logging.warning('%s: evaluating the checkpoint at step %d, not the final '
                    'step %d (the newer one is unreadable)', workdir, step,
                    old['steps'])
  history = old.pop('history', [])
  extra = {k: v for k, v in old.items() if k in (
      'train_seconds', 'compile_seconds', 'teacher_cache_seconds', 'steps',
      'seed', 'teacher', 'teacher_cache', 'grid', 'stage1_history',
      'stage1_train_seconds')}
  extra['evaluated_step'] = step
  metrics = finish(workdir, config, data, model, variables, history, extra)
  logging.info('%s: re-evaluated step %d: test accuracy %.2f%% (%d errors), '
               '%.3f ms/sample', workdir, step, metrics['test']['accuracy'],
               metrics['test']['errors'], metrics['latency']['ms_per_sample_median'])
  return metrics
