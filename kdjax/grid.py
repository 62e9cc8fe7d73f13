"""A sweep's grid of students trained as one compiled program.

Points may differ only in the seed and their method's runtime
hyper-parameters (`grid_keys`: e.g. distill.temperature and distill.alpha
for KD); everything else, the teacher included, is shared. The students are
stacked [seeds, points]: points of one seed share data order, augmentation
and the teacher's forward pass (`steps.GridStep`), seeds are vmapped, and
the epoch loop is the single run's (`loop.run_stage`). Each point ends with
the run directory a separate run would write (config.json, checkpoints/,
metrics.json, predictions/test.npz, tensorboard/), so the analysis tools
cannot tell the difference; the stacked state is checkpointed in
`grid_workdir` to resume.
"""

import contextlib
import json
import os

from absl import logging
import jax
import jax.numpy as jnp
import tensorboardX

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import errors
from kdjax import loop
from kdjax import methods
from kdjax import models
from kdjax import optim
from kdjax import outputs
from kdjax import parallel
from kdjax import steps
from kdjax import train
from kdjax import workdir as workdir_lib


def grid_keys(method_name: str) -> tuple:
  """The keys a grid's points may differ in: the seed and the method's
  runtime hyper-parameters."""
  return ('seed',) + tuple(methods.get(method_name).hparams.values())


def _layout(configs):
  """[seeds][points] of config indices; refuses grids one program cannot run."""
  method = methods.get(configs[0].method)
  if method.two_stage:
    raise errors.ConfigError(
        f'method={method.name!r} trains in two stages; expected a one-stage '
        'method for a vmapped grid (run this sweep without vmap)')
  keys = grid_keys(method.name)
  flat = [config_lib.flatten(json.loads(c.to_json())) for c in configs]
  for key in sorted(flat[0]):
    if key not in keys and any(f.get(key) != flat[0][key] for f in flat):
      raise errors.ConfigError(
          f'grid points differ in {key!r}; one vmapped program of method '
          f'{method.name!r} can vary only {", ".join(keys)} (run this sweep '
          'without vmap)')
  hparams = lambda f: tuple(f[k] for k in keys[1:])
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
    workdir_lib.check_same_run(workdir, json.loads(config.to_json()), bound=bound)
  if all(workdir_lib.finished_steps(w) is not None for w in workdirs):
    return [outputs.read_json(os.path.join(w, 'metrics.json')) for w in workdirs]
  for workdir in workdirs + [grid_workdir]:
    workdir_lib.make(workdir)
  with contextlib.ExitStack() as stack:
    for workdir in workdirs + [grid_workdir]:
      stack.enter_context(workdir_lib.exclusive(workdir))
    for config, workdir in zip(configs, workdirs):
      workdir_lib.check_same_run(workdir, json.loads(config.to_json()), bound=bound)
    return _train_grid(configs, workdirs, grid_workdir, layout)


def _train_grid(configs, workdirs, grid_workdir, layout):
  config = configs[0]  # everything but the grid keys is shared
  method = methods.get(config.method)
  mesh, model, data, teacher, teacher_variables, teacher_record = train.setup(config)
  tx = optim.create(config.optimizer, loop.steps_per_epoch(config, data)
                    * config.train.epochs)
  grid = lambda fn: _stack([_stack([fn(configs[i]) for i in row]) for row in layout])
  step_model = train.with_parts(method, config, model, {'params': {}})[0]
  state = grid(lambda c: steps.create_state(train.with_parts(
      method, c, model, models.init(model, steps.init_rng(c.seed), data.image_shape))[1],
      tx, steps.stage_rng(c.seed)))
  if teacher_record is not None:  # the grid's checkpoints say whether it started
    workdir_lib.bind_teacher(grid_workdir, teacher_record,
                             os.path.isdir(checkpoint.directory(grid_workdir)))
    for workdir in workdirs:  # each point records it as a single run would
      outputs.write_json(os.path.join(workdir, 'teacher.json'), teacher_record)
  for c, workdir in zip(configs, workdirs):
    outputs.write_json(os.path.join(workdir, 'config.json'), json.loads(c.to_json()))
  cells = [(s, p, i) for s, row in enumerate(layout) for p, i in enumerate(row)]
  logging.info('grid: %d students (%d seeds x %d settings) of %s, %d params each',
               len(configs), len(layout), len(layout[0]), config.model.name,
               models.param_count(jax.tree.map(lambda x: x[0, 0], state.params)))
  writers = [tensorboardX.SummaryWriter(os.path.join(workdirs[i], 'tensorboard'))
             for _, _, i in cells]
  try:
    state, histories, timing = loop.run_stage(
        loop.Stage('grid', grid_workdir, config.train.epochs,
                   grid=loop.grid_kind(config),
                   points=tuple((s, p) for s, p, _ in cells),
                   labels=tuple(workdirs[i] for _, _, i in cells)),
        state=state, step=train.step_spec(config, data, step_model, tx,
                                          method.objective(configs)),
        hparams=grid(method.hparams_of), config=config, data=data, teacher=teacher,
        teacher_variables=teacher_variables, mesh=mesh, writers=writers)
  finally:
    for writer in writers:
      writer.close()

  results = []
  for (s, p, i), history in zip(cells, histories):
    point_state = jax.tree.map(lambda x: x[s, p], state)
    point_mngr = checkpoint.manager(workdirs[i], keep=config.checkpoint.keep)
    if point_mngr.latest_step() != int(point_state.step):  # not saved before a kill
      checkpoint.save(point_mngr, point_state, history)
    point_mngr.wait_until_finished()
    point_mngr.close()
    extra = {'seed': configs[i].seed, 'steps': int(point_state.step),
             # The grid's time, shared by its students, and its share per student.
             'train_seconds': timing['train_seconds'] / len(configs),
             'compile_seconds': timing['compile_seconds'] / len(configs),
             'teacher_cache': timing['teacher_cache'],
             'grid': {'workdir': grid_workdir, 'students': len(configs),
                      'train_seconds': timing['train_seconds'],
                      'compile_seconds': timing['compile_seconds'],
                      'teacher_cache_seconds': timing['teacher_cache_seconds']}}
    if teacher_record is not None:
      extra['teacher'] = teacher_record
    results.append((i, train.finish(
        workdirs[i], configs[i], data, model,
        train.student_variables(method, configs[i], steps.model_variables(
            point_state.params, point_state.batch_stats), extra), history, extra)))
  return [m for _, m in sorted(results, key=lambda r: r[0])]
