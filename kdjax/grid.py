"""A sweep's grid of students trained as one compiled program.

Points may differ only in `GRID_KEYS` (seed and the distillation weights);
everything else, the teacher included, is shared. The students are stacked
[seeds, points]: points of one seed share data order, augmentation and the
teacher's forward pass (`steps.train_step(grid=...)`), seeds are vmapped.
Each point ends with the run directory a separate run would write
(config.json, checkpoints/, metrics.json, predictions/test.npz,
tensorboard/), so the analysis tools cannot tell the difference; the
stacked state is checkpointed in `grid_workdir` to resume.
"""

import contextlib
import functools
import json
import math
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import tensorboardX

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import errors
from kdjax import evaluate
from kdjax import models
from kdjax import optim
from kdjax import outputs
from kdjax import parallel
from kdjax import steps
from kdjax import train
from kdjax import xla_options

GRID_KEYS = ('seed', 'distill.temperature', 'distill.alpha',
             'distill.rkd_distance_weight', 'distill.rkd_angle_weight')


def _layout(configs):
  """[seeds][points] of config indices; refuses grids one program cannot run."""
  flat = [config_lib.flatten(json.loads(c.to_json())) for c in configs]
  for key in sorted(flat[0]):
    if key not in GRID_KEYS and any(f.get(key) != flat[0][key] for f in flat):
      raise errors.ConfigError(
          f'grid points differ in {key!r}; one vmapped program can vary only '
          f'{", ".join(GRID_KEYS)} (run this sweep without vmap)')
  if configs[0].method == 'fitnet':
    raise errors.ConfigError(
        "method='fitnet' trains in two stages; expected 'none', 'kd' or 'rkd' "
        'for a vmapped grid (run this sweep without vmap)')
  hparams = lambda f: tuple(f[k] for k in GRID_KEYS[1:])
  seeds = sorted({f['seed'] for f in flat})
  points = sorted({hparams(f) for f in flat})
  index = {(f['seed'], hparams(f)): i for i, f in enumerate(flat)}
  if len(index) != len(flat) or len(flat) != len(seeds) * len(points):
    raise errors.ConfigError(
        f'the {len(flat)} grid points are not every (seed, hyper-parameters) '
        f'pair of {len(seeds)} seeds x {len(points)} settings once; expected a '
        'full product')
  return [[index[s, p] for p in points] for s in seeds]


def _stack(trees):
  return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def _point(tree, s, p):
  return jax.tree.map(lambda x: x[s, p], tree)


def train_grid(configs, workdirs, grid_workdir) -> list[dict]:
  """Trains every (config, workdir) point as one program; returns their metrics.

  Points whose metrics.json exists are not retrained; if all exist, nothing
  runs. A killed grid resumes from `grid_workdir`'s latest checkpoint.
  """
  for config in configs:
    config_lib.validate(config)
  configs = [config_lib.runlocal(c) if c.runlocal else c for c in configs]
  layout = _layout(configs)
  if parallel.distributed_requested(configs[0].train.distributed):
    raise errors.ConfigError(
        'a grid trains in one process (its devices may be several); expected '
        'one SLURM task, or train.distributed=no, or a sweep without vmap')
  bound = os.path.isdir(checkpoint.directory(grid_workdir))
  for config, workdir in zip(configs, workdirs):  # finished or under way: the same?
    train.check_same_run(workdir, json.loads(config.to_json()), bound=bound)
  if all(os.path.exists(os.path.join(w, 'metrics.json')) for w in workdirs):
    return [outputs.read_json(os.path.join(w, 'metrics.json')) for w in workdirs]
  for workdir in workdirs + [grid_workdir]:
    train.make_workdir(workdir)
  with contextlib.ExitStack() as stack:
    for workdir in workdirs + [grid_workdir]:
      stack.enter_context(train.exclusive(workdir))
    for config, workdir in zip(configs, workdirs):
      train.check_same_run(workdir, json.loads(config.to_json()), bound=bound)
    return _train_grid(configs, workdirs, grid_workdir, layout)


def _train_grid(configs, workdirs, grid_workdir, layout):
  config = configs[0]  # everything but GRID_KEYS is shared
  mesh, model, data, teacher, teacher_variables, teacher_record = train.setup(config)
  batch_size = config.train.batch_size
  steps_per_epoch = len(data.train) // batch_size
  tx = optim.create(config.optimizer, steps_per_epoch * config.train.epochs)

  grid = lambda fn: _stack([_stack([fn(configs[i]) for i in row]) for row in layout])
  state = grid(lambda c: steps.create_state(
      models.init(model, steps.init_rng(c.seed), data.image_shape), tx,
      steps.stage_rng(c.seed)))
  hparams = grid(train.hparams_of)
  for c, workdir in zip(configs, workdirs):
    outputs.write_json(os.path.join(workdir, 'config.json'), json.loads(c.to_json()))
  objective = steps.Objective(
      {'none': 'none', 'kd': 'kd', 'rkd': 'rkd'}[config.method],
      rkd_angle=any(c.distill.rkd_angle_weight > 0 for c in configs))
  cache_start = time.perf_counter()
  teacher, teacher_variables, cache = train.teacher_source(
      config, data, teacher, teacher_variables, objective, config.train.epochs, mesh)
  cache_seconds = time.perf_counter() - cache_start
  step_fn = functools.partial(
      steps.train_step, model=model, tx=tx, teacher=teacher, objective=objective,
      translate=config.dataset.translate, flip=config.dataset.flip,
      mean=data.mean, std=data.std, grid=train.grid_kind(config))
  if mesh.size > 1:
    step_fn = parallel.shard_step(step_fn, mesh)
  epoch_fn = train.epoch_runner(
      train.loop_kind(config), steps_per_epoch, batch_size, step_fn, grid=True,
      compiler_options=xla_options.for_training(train.convolutional(config)))
  predict = jax.jit(jax.vmap(jax.vmap(
      train.predictor(config, data, model), in_axes=(0, None)), in_axes=(0, None)))

  mngr = checkpoint.manager(grid_workdir, keep=config.checkpoint.keep)
  histories = [[] for _ in configs]
  restored = checkpoint.restore_latest(mngr, state)
  if restored is not None:
    state, histories = restored
    logging.info('grid: resumed from step %d (epoch %d).',
                 int(state.step[0, 0]), len(histories[0]))
  writers = [tensorboardX.SummaryWriter(os.path.join(w, 'tensorboard'))
             for w in workdirs]
  train_x, train_y = jnp.asarray(data.train.images), jnp.asarray(data.train.labels)
  test_x = jnp.asarray(data.test.images)
  cells = [(s, p, i) for s, row in enumerate(layout) for p, i in enumerate(row)]
  logging.info('grid: %d students (%d seeds x %d settings) of %s, %d params each',
               len(configs), len(layout), len(layout[0]), config.model.name,
               models.param_count(_point(state.params, 0, 0)))
  start = time.perf_counter()
  compiled = epoch_fn(state, train_x, train_y, teacher_variables, hparams)
  compile_seconds, train_seconds = time.perf_counter() - start, 0.0
  try:
    for epoch in range(len(histories[0]), config.train.epochs):
      start = time.perf_counter()
      state, sums = compiled(state, train_x, train_y, teacher_variables, hparams)
      sums = jax.device_get(sums)
      seconds = time.perf_counter() - start
      train_seconds += seconds
      loss = sums['loss'] / sums['count']
      bad = [(i, loss[s, p]) for s, p, i in cells if not math.isfinite(loss[s, p])]
      if bad:
        raise train.TrainingDiverged(
            f'training diverged: mean loss {bad[0][1]} of grid point '
            f'{workdirs[bad[0][0]]!r} in epoch {epoch + 1}; expected a finite '
            'loss (lower the learning rate?); the last good grid checkpoint, '
            f'step {mngr.latest_step()}, is kept')
      logits = np.asarray(predict(steps.model_variables(state.params, state.batch_stats),
                                  test_x))
      rate = float(sums['count'].sum()) / seconds
      for s, p, i in cells:
        test = evaluate.classification_metrics(logits[s, p], data.test.labels)
        record = train.epoch_record(epoch + 1, int(state.step[s, p]),
                                    _point(sums, s, p), test, rate)
        histories[i].append(record)
        train.log_scalars(writers[i], record)
      accuracies = [h[-1]['test_accuracy'] for h in histories]
      logging.info('grid epoch %d/%d  %d students  test acc %.2f-%.2f%%  '
                   '%.0f samples/s (all students)', epoch + 1, config.train.epochs,
                   len(configs), min(accuracies), max(accuracies), rate)
      if ((epoch + 1) % config.checkpoint.every_epochs == 0
          or epoch + 1 == config.train.epochs):
        checkpoint.save(mngr, state, histories)
  finally:
    mngr.wait_until_finished()
    mngr.close()
    for writer in writers:
      writer.close()

  results = []
  for s, p, i in cells:
    point_state = _point(state, s, p)
    point_mngr = checkpoint.manager(workdirs[i], keep=config.checkpoint.keep)
    if point_mngr.latest_step() != int(point_state.step):  # not saved before a kill
      checkpoint.save(point_mngr, point_state, histories[i])
    point_mngr.wait_until_finished()
    point_mngr.close()
    extra = {'seed': configs[i].seed, 'steps': int(point_state.step),
             # The grid's time, shared by its students, and its share per student.
             'train_seconds': train_seconds / len(configs),
             'compile_seconds': compile_seconds / len(configs),
             'teacher_cache': cache,
             'grid': {'workdir': grid_workdir,
                      'students': len(configs), 'train_seconds': train_seconds,
                      'compile_seconds': compile_seconds,
                      'teacher_cache_seconds': cache_seconds}}
    if teacher_record is not None:
      extra['teacher'] = teacher_record
    results.append((i, train.finish(
        workdirs[i], configs[i], data, model,
        steps.model_variables(point_state.params, point_state.batch_stats),
        histories[i], extra)))
  return [m for _, m in sorted(results, key=lambda r: r[0])]
