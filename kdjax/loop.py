"""The epoch loop that single runs and grids share.

`run_stage` trains one stage (a run, FitNets' hint stage, or a grid of
[seeds, points] students) to its epoch count: it resumes from the
stage's latest checkpoint, decides and builds the teacher source (module or
output cache), compiles one epoch, then per epoch trains, evaluates every
student on the test set, records, logs, writes TensorBoard points and
checkpoints. A grid is the explicit wrapper `steps.GridStep` around the same
`steps.Step`; the loop differs only in how many students it indexes.
"""

import dataclasses
import functools
import math
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from kdjax import checkpoint
from kdjax import errors
from kdjax import evaluate
from kdjax import faults
from kdjax import interrupts
from kdjax import methods
from kdjax import models
from kdjax import parallel
from kdjax import steps
from kdjax import teacher_cache
from kdjax import xla_options

# Long epochs ('python' loop) log a progress line at most every 30 s.
_PROGRESS_EVERY_STEPS, _PROGRESS_SECONDS = 20, 30.0


@dataclasses.dataclass(frozen=True)
class Stage:
  """What `run_stage` trains.

  name: 'train', 'stage1' or 'grid' (log lines; TensorBoard prefix unless
    'train' or 'grid'). workdir: its checkpoints/ go here. epochs: to train
    to; epochs_key: the config key that set them (for errors).
  grid: None for one student, else the `GridStep` kind ('vmap' or 'unroll')
    of a [seeds, points] grid; points: each student's index in the state,
    (seed, point) (`steps.state_at`), [()] for one; labels: each student's
    name in messages.
  point_steps: a multi-method grid's `Step` per point (`GridStep`, whose
    state is then a tuple of per-point states); () when every point shares
    the stage's step.
  """
  name: str
  workdir: str
  epochs: int
  epochs_key: str = 'train.epochs'
  grid: str | None = None
  points: tuple = ((),)
  labels: tuple = ('',)
  point_steps: tuple = ()


def convolutional(config) -> bool:
  """Whether the run's student or teacher is a convolutional network."""
  return config.model.name in models.CONVOLUTIONAL or (
      methods.get(config.method).needs_teacher
      and config.teacher.model.name in models.CONVOLUTIONAL)


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


@dataclasses.dataclass(frozen=True)
class Plan:
  """What the loop is told about a run, decided once from its config
  (`plan`): the loop reads no config.

  loop: 'scan' or 'python' (`loop_kind`); grid: a grid's step kind
  (`grid_kind`); compiler_options: XLA's options for the training steps,
  the evaluation and the teacher cache (`xla_options.for_training`);
  batch_size, eval_batch_size: examples per step; teacher_cache: whether
  the teacher's outputs may be cached (`teacher_cache.plan` decides);
  translate, flip: the augmentation the cache must cover; checkpoint_every,
  checkpoint_keep: save every n epochs (and the last), keep the newest k.
  """
  loop: str
  grid: str
  compiler_options: dict
  batch_size: int
  eval_batch_size: int
  teacher_cache: bool
  translate: int
  flip: bool
  checkpoint_every: int
  checkpoint_keep: int | None

  def steps_per_epoch(self, data) -> int:
    """Optimizer updates per epoch: full batches only (the remainder is dropped)."""
    return len(data.train) // self.batch_size


def plan(config) -> Plan:
  """The loop's `Plan` of a run's `config`."""
  return Plan(
      loop=loop_kind(config), grid=grid_kind(config),
      compiler_options=xla_options.for_training(convolutional(config)),
      batch_size=config.train.batch_size, eval_batch_size=config.train.eval_batch_size,
      teacher_cache=config.distill.teacher_cache, translate=config.dataset.translate,
      flip=config.dataset.flip, checkpoint_every=config.checkpoint.every_epochs,
      checkpoint_keep=config.checkpoint.keep)


def epoch_runner(kind, steps_per_epoch, batch_size, step_fn, grid=False,
                 compiler_options=None):
  """Compiles one epoch for arguments like the given ones; returns a function
  (state, images, labels, teacher_variables, hparams) -> (state, metric sums).

  'scan': the whole epoch is one program. 'python': one compiled step per
  batch, dispatched without waiting (the host syncs once per epoch, on the
  sums); the same data order and keys as 'scan'. grid=True: a [seeds, points]
  grid of students (`steps.grid_epoch`; `step_fn` a `steps.GridStep`).
  `compiler_options`: XLA options of the compiled program (`xla_options`).
  """
  if kind == 'scan':
    epoch = jax.jit(functools.partial(
        steps.grid_epoch if grid else steps.train_epoch, steps=steps_per_epoch,
        batch_size=batch_size, step_fn=step_fn), donate_argnums=0)
    return lambda *args: epoch.lower(*args).compile(compiler_options)
  one_step = functools.partial(steps.indexed_step, step_fn=step_fn)
  batches_of = functools.partial(steps.epoch_batches, steps=steps_per_epoch,
                                 batch_size=batch_size, step_fn=step_fn)
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
        interrupts.check()
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


def predictor(run_plan: Plan, data, model, grid=False):
  """Compiled `predict(variables, uint8 images) -> logits` in eval batches;
  with `grid`, variables and logits carry the leading [seeds, points] axes.
  It takes the XLA options of training (`xla_options`)."""
  predict = functools.partial(
      steps.predict, model=model, mean=data.mean, std=data.std,
      batch_size=run_plan.eval_batch_size)
  if grid:
    predict = jax.vmap(jax.vmap(predict, in_axes=(0, None)), in_axes=(0, None))
  return jax.jit(predict, compiler_options=run_plan.compiler_options)


def teacher_source(run_plan: Plan, data, teacher, teacher_variables, objective, epochs,
                   mesh, build=True):
  """(teacher, its variables, record) for a stage: the teacher module and its
  variables, or a `CachedTeacher` and its output table when the cache rule
  (`teacher_cache.plan`) says so. `record` (None without a teacher) says
  which and why, for the log and metrics.json; build=False decides only."""
  if teacher is None:
    return None, None, None
  batch = run_plan.batch_size
  outputs = objective.teacher_outputs
  cache = teacher_cache.plan(
      enabled=run_plan.teacher_cache, objective_name=objective.name,
      num_examples=len(data.train), epochs=epochs,
      steps_per_epoch=run_plan.steps_per_epoch(data), batch_size=batch,
      dims=teacher_cache.output_dims(teacher, data.image_shape, outputs),
      outputs=outputs, translate=run_plan.translate, flip=run_plan.flip,
      teacher_train=objective.teacher_train)
  record = {'used': cache.use, 'reason': cache.reason, 'variants': cache.variants,
            'bytes': cache.bytes}
  logging.info('teacher cache %s: %s (%.1f MiB)', 'on' if cache.use else 'off',
               cache.reason, cache.bytes / 2**20)
  if not cache.use or not build:
    return teacher, teacher_variables, record
  table = teacher_cache.build(  # on this process's device, from a host copy
      teacher, jax.device_get(teacher_variables), data.train.images, outputs=outputs,
      translate=run_plan.translate, flip=run_plan.flip,
      mean=data.mean, std=data.std, batch_size=batch // mesh.size,
      compiler_options=run_plan.compiler_options)
  shapes = teacher_cache.output_shapes(teacher, data.image_shape, outputs)
  return teacher_cache.CachedTeacher(outputs, shapes), placer(mesh)(table), record


def log_scalars(writer, record, prefix=''):
  """One TensorBoard point per number in an epoch's `record` (None: no writer)."""
  if writer is None:
    return
  for key, value in record.items():
    if key not in ('epoch', 'step') and isinstance(value, (int, float)):
      writer.add_scalar(prefix + key.replace('_', '/', 1), value, record['epoch'])
  writer.flush()


def epoch_record(epoch, step, sums, test, samples_per_sec) -> dict:
  """One epoch's entry of a run's history, from its train metric sums and
  test metrics; the objective's loss terms as `train_<name>` (epoch means)."""
  terms = {'train_' + k[len(steps.TERM):]: float(v / sums['count'])
           for k, v in sums.items()
           if k.startswith(steps.TERM) and not np.isnan(v)}  # NaN: not this point's
  return {'epoch': epoch, 'step': step,
          'train_loss': float(sums['loss'] / sums['count']), **terms,
          'train_accuracy': 100.0 * float(sums['correct'] / sums['count']),
          'test_loss': test['loss'], 'test_accuracy': test['accuracy'],
          'train_samples_per_sec': samples_per_sec}


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


def _at(tree, index):
  return jax.tree.map(lambda x: x[index], tree)


def _step_at(state, index):
  """Student `index`'s step count (`steps.state_at`)."""
  return state[index[1]].step[index[0]] if isinstance(state, tuple) else state.step[index]


def run_stage(stage: Stage, *, state, step: steps.Step, hparams, run_plan: Plan, data,
              teacher, teacher_variables, mesh, writers):
  """Runs (or resumes) `stage`; returns (state, histories, timing).

  `step` is the stage's `steps.Step` without its teacher (this function
  picks the teacher or its cache); `state` and `hparams` carry the grid's
  leading axes for a grid. Histories: one list of epoch records per
  student; `writers`: one TensorBoard writer (or None) per student. A
  non-finite training loss stops the stage.
  """
  batch_size = run_plan.batch_size
  epoch_steps = run_plan.steps_per_epoch(data)
  place = placer(mesh)
  state = place(state)
  mngr = checkpoint.manager(stage.workdir, keep=run_plan.checkpoint_keep)
  state, histories = _resume(stage, mngr, state)
  done = len(histories[0])
  start = time.perf_counter()
  teacher, teacher_variables, cache = teacher_source(
      run_plan, data, teacher, teacher_variables, step.objective, stage.epochs, mesh,
      build=done < stage.epochs)
  samples = epoch_steps * batch_size * len(stage.points)
  if done >= stage.epochs:
    mngr.close()
    return state, histories, dict(run_timing(histories[0], samples), teacher_cache=cache)

  # One-off costs of this piece, charged to the first epoch it trains.
  overhead = {}
  if cache is not None and cache['used']:
    overhead['teacher_cache_seconds'] = time.perf_counter() - start
  step_fn = dataclasses.replace(step, teacher=teacher, steps_per_epoch=epoch_steps)
  if stage.grid:
    step_fn = steps.GridStep(step_fn, stage.grid, stage.point_steps)
  if mesh.size > 1:
    step_fn = parallel.shard_step(step_fn, mesh)
  epoch_fn = epoch_runner(
      run_plan.loop, epoch_steps, batch_size, step_fn, grid=bool(stage.grid),
      compiler_options=run_plan.compiler_options)
  predict = predictor(run_plan, data, step.model, grid=bool(stage.grid))
  train_x, train_y, test_x, hparams = place((
      data.train.images, data.train.labels, data.test.images, hparams))

  logging.info('%s: compiling the %s epoch (%d steps of %d)...', stage.name,
               run_plan.loop, epoch_steps, batch_size)
  start = time.perf_counter()
  compiled = epoch_fn(state, train_x, train_y, teacher_variables, hparams)
  overhead['compile_seconds'] = time.perf_counter() - start
  logging.info('%s: compiled in %.1f s', stage.name, overhead['compile_seconds'])
  prefix = '' if stage.name in ('train', 'grid') else stage.name + '/'
  try:
    for epoch in range(done, stage.epochs):
      start = time.perf_counter()
      state, sums = compiled(state, train_x, train_y, teacher_variables, hparams)
      faults.crash_point(f'{stage.name}_epoch_running')  # the epoch runs asynchronously
      sums = jax.device_get(sums)
      seconds = time.perf_counter() - start
      interrupts.check()  # before the epoch is recorded or saved
      _check_finite(stage, sums, epoch, epoch_steps, mngr.latest_step())
      logits = np.asarray(predict(steps.student_variables(state, stage.point_steps),
                                  test_x))
      rate = float(np.sum(sums['count'])) / seconds
      for index, history, writer in zip(stage.points, histories, writers):
        test = evaluate.classification_metrics(logits[index], data.test.labels)
        record = epoch_record(epoch + 1, int(_step_at(state, index)),
                              _at(sums, index), test, rate)
        record.update(seconds=seconds, **overhead)
        history.append(record)
        log_scalars(writer, record, prefix)
      overhead = {}
      _log_epoch(stage, epoch, histories, rate)
      if (epoch + 1) % run_plan.checkpoint_every == 0 or epoch + 1 == stage.epochs:
        checkpoint.save(mngr, state, histories if stage.grid else histories[0])
        faults.crash_point('checkpoint_writing')  # Orbax writes asynchronously
  finally:
    mngr.wait_until_finished()
    mngr.close()
  return state, histories, dict(run_timing(histories[0], samples), teacher_cache=cache)


def _resume(stage, mngr, state):
  """(state, histories) from the stage's newest checkpoint, or as given."""
  histories = [[] for _ in stage.points]
  restored = checkpoint.restore_latest(mngr, state)
  if restored is not None:  # a grid saves its list of histories, a run its own
    state, saved = restored
    histories = saved if stage.grid else [saved]
    logging.info('%s: resumed from step %d (epoch %d).', stage.name,
                 int(_step_at(state, stage.points[0])), len(histories[0]))
  done = len(histories[0])
  if done > stage.epochs:
    raise errors.ConfigError(
        f'{stage.epochs_key}={stage.epochs} is fewer than the {done} epochs '
        f'{stage.workdir!r} has trained; expected at least {done}, or a new --workdir')
  return state, histories


def _check_finite(stage, sums, epoch, steps_per_epoch, last_checkpoint):
  """Raises `TrainingDiverged` naming every student whose mean loss over the
  epoch is not finite (a grid stops whole: its students share one program)."""
  loss = sums['loss'] / sums['count']
  bad = [(float(loss[index]), label) for index, label in zip(stage.points, stage.labels)
         if not math.isfinite(float(loss[index]))]
  if bad:
    which = (f' of {len(bad)} of {len(stage.labels)} students: ' + ', '.join(
        repr(label) for _, label in bad) if bad[0][1] else '')
    raise errors.TrainingDiverged(
        f'training diverged: mean loss {bad[0][0]} in {stage.name} '
        f'epoch {epoch + 1} (steps {epoch * steps_per_epoch + 1}-'
        f'{(epoch + 1) * steps_per_epoch}){which}; expected a finite loss (lower the '
        'learning rate?); ' + (
            f'the last good checkpoint, step {last_checkpoint}, is kept'
            if last_checkpoint else 'no checkpoint was written'))


def _log_epoch(stage, epoch, histories, rate):
  if len(histories) == 1:
    record = histories[0][-1]
    logging.info(
        '%s epoch %d/%d  loss %.4f  train acc %.2f%%  test acc %.2f%%  '
        '%.0f samples/s', stage.name, epoch + 1, stage.epochs, record['train_loss'],
        record['train_accuracy'], record['test_accuracy'], rate)
    return
  accuracies = [h[-1]['test_accuracy'] for h in histories]
  logging.info('%s epoch %d/%d  %d students  test acc %.2f-%.2f%%  '
               '%.0f samples/s (all students)', stage.name, epoch + 1, stage.epochs,
               len(histories), min(accuracies), max(accuracies), rate)
