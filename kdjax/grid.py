"""A sweep's grid of students trained as one compiled program.

Points may differ only in the seed, their method and the method's keys;
everything else, the teacher included, is shared. Where they differ only in
the seed and one method's runtime hyper-parameters (`grid_keys`: e.g.
distill.temperature and distill.alpha for KD) the students are stacked
[seeds, points] in one state; else each point keeps a state of its own (a
tuple of them, each stacked [seeds]). Points of one seed share data order,
augmentation and the teacher's forward pass (`steps.GridStep`), seeds are
vmapped, and the epoch loop is the single run's (`loop.run_stage`). Each
point ends with the run directory a separate run would write (config.json,
checkpoints/, metrics.json, predictions/test.npz, tensorboard/), so the
analysis tools cannot tell the difference; the grid's state is checkpointed
in `grid_workdir` to resume.

Points of different methods (a method benchmark: e.g. none, kd, dkd, dist,
at) share a program too, when they share everything but their method and its
keys: each point updates with its own objective, written one after another
into the step ('unroll'), after one teacher forward pass per batch (or one
read of the teacher cache, which then holds what every point reads). Methods
with parts or state of their own (CTKD's temperature, CRD's heads and memory
bank) keep them in their points' states, which the program then holds as a
tuple, one state per point. Methods that train in stages (FitNets, FT, AB,
FSP) cannot run in a grid, and OFD, whose teacher normalises with the batch's
statistics, shares no teacher pass.
"""

import contextlib
import json
import os

from absl import logging
import jax
import jax.numpy as jnp

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import errors
from kdjax import loop
from kdjax import methods
from kdjax import models
from kdjax import outputs
from kdjax import parallel
from kdjax import steps
from kdjax import train
from kdjax import workdir as workdir_lib


def grid_keys(method_name: str) -> tuple:
  """The keys a grid's points may differ in: the seed and the method's
  runtime hyper-parameters."""
  return ('seed',) + tuple(methods.get(method_name).hparams.values())


def _method_keys(names) -> set:
  return {k.path for n in names for k in methods.get(n).keys}


def _layout(configs):
  """([seeds][points] of config indices, the methods of a program whose
  points each keep their own state and objective, or None for one stacked
  state); refuses grids one program cannot run. Points of one method that
  differ in a key other than its runtime hyper-parameters (logit
  standardisation on and off) are such a program too."""
  names = sorted({c.method for c in configs})
  for name in names:
    method = methods.get(name)
    if method.stages:
      raise errors.ConfigError(
          f'method={method.name!r} trains in '
          f'{ {2: "two", 3: "three"}.get(len(method.stages) + 1, len(method.stages) + 1)} '
          'stages; expected a one-stage method for a vmapped grid (run this sweep '
          'without vmap)')
    if len(names) > 1 and method.teacher_train:
      raise errors.ConfigError(
          f'method={method.name!r} runs the teacher with the batch\'s BatchNorm '
          f'statistics, so its students cannot share a teacher pass with '
          f'{[n for n in names if n != name]}; expected one method per program for '
          'it (a sweep of its own)')
  # Each point may have its own objective: every method key may differ.
  keys = ('seed', 'method') + tuple(sorted(_method_keys(names)))
  flat = [config_lib.flatten(json.loads(c.to_json())) for c in configs]
  # A key may hold a section (CTKD's optimizer): its leaves vary with it.
  within = lambda key, keys: any(key == k or key.startswith(k + '.') for k in keys)
  varies = lambda key: within(key, keys[1:])
  differ = [key for key in sorted(flat[0])
            if key != 'seed' and any(f.get(key) != flat[0][key] for f in flat)]
  for key in differ:
    if not varies(key):
      raise errors.ConfigError(
          f'grid points differ in {key!r}; one program of methods {names} can vary '
          'only the seed, the method and its keys (run this sweep without vmap)')
  per_point = len(names) > 1 or any(not within(k, grid_keys(names[0])[1:]) for k in differ)
  setting = lambda f: tuple((k, f[k]) for k in sorted(f) if varies(k))
  seeds = sorted({f['seed'] for f in flat})
  points = sorted({setting(f) for f in flat})
  index = {(f['seed'], setting(f)): i for i, f in enumerate(flat)}
  if len(index) != len(flat) or len(flat) != len(seeds) * len(points):
    raise errors.ConfigError(
        f'the {len(flat)} grid points are not every (seed, hyper-parameters) '
        f'pair of {len(seeds)} seeds x {len(points)} settings once; expected a '
        'full product')
  return [[index[s, p] for p in points] for s in seeds], (names if per_point else None)


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
  layout, multi = _layout(configs)
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
    _check_cells(grid_workdir, [workdirs[i] for row in layout for i in row], bound)
    return _train_grid(configs, workdirs, grid_workdir, layout, multi)


def _check_cells(grid_workdir, cell_workdirs, bound):
  """Records which point's workdir each cell of the grid's state trains
  (layout.json) and refuses to resume a grid whose cells would change: the
  checkpoint's states would go to other points."""
  path = os.path.join(grid_workdir, 'layout.json')
  cells = [os.path.relpath(os.path.abspath(w), os.path.abspath(grid_workdir))
           for w in cell_workdirs]
  if bound and os.path.exists(path):
    saved = outputs.read_json(path)['cells']
    if saved != cells:
      i = next(i for i in range(max(len(saved), len(cells)))
               if i >= min(len(saved), len(cells)) or saved[i] != cells[i])
      at = lambda cells: repr(cells[i]) if i < len(cells) else 'nothing'
      raise errors.ConfigError(
          f'grid workdir {grid_workdir!r} holds a grid whose cell {i} trains '
          f'{at(saved)}; this sweep puts {at(cells)} there; expected the same points '
          "to resume (the checkpoint's states belong to them), or a new --workdir")
  outputs.write_json(path, {'cells': cells})


def _train_grid(configs, workdirs, grid_workdir, layout, multi):
  # Everything but the grid keys is shared; a multi-method program sets up
  # with a point that reads the teacher, and checks every method's features.
  config = next((c for c in configs if methods.get(c.method).needs_teacher), configs[0])
  method = methods.get(config.method)
  mesh, model, data, teacher, teacher_variables, teacher_record = train.setup(config)
  for c in configs:
    if teacher is not None and methods.get(c.method).needs_teacher:
      train.check_features(c, methods.get(c.method), model, teacher, data.image_shape)
  run_plan = loop.plan(config)
  epoch_steps = run_plan.steps_per_epoch(data)

  def point(c):
    """(the step's model, its optimizer, its state at step 0) of point `c`."""
    m = methods.get(c.method)
    tx = train.optimizer(m, c, epoch_steps)
    step_model, state = train.main_state(
        m, c, model, models.init(model, steps.init_rng(c.seed), data.image_shape),
        train.feature_shapes(m, model, teacher, data.image_shape), tx,
        data.train.labels, teacher_variables=teacher_variables)
    return step_model, tx, state

  points = [[point(configs[i]) for i in row] for row in layout]
  if multi:  # each point's own state, stacked over seeds: their structures differ
    state = tuple(_stack([row[p][2] for row in points]) for p in range(len(layout[0])))
  else:
    state = _stack([_stack([pt[2] for pt in row]) for row in points])
  parts = [(step_model, tx) for step_model, tx, _ in points[0]]
  del points  # the unstacked states: not kept on the device while training
  grid = lambda fn: _stack([_stack([fn(configs[i]) for i in row]) for row in layout])
  reads_teacher = [methods.get(c.method).needs_teacher for c in configs]
  if teacher_record is not None:  # the grid's checkpoints say whether it started
    workdir_lib.bind_teacher(grid_workdir, teacher_record,
                             os.path.isdir(checkpoint.directory(grid_workdir)))
    for workdir, reads in zip(workdirs, reads_teacher):  # as a single run would
      if reads:
        outputs.write_json(os.path.join(workdir, 'teacher.json'), teacher_record)
  for c, workdir in zip(configs, workdirs):
    outputs.write_json(os.path.join(workdir, 'config.json'), json.loads(c.to_json()))
  cells = [(s, p, i) for s, row in enumerate(layout) for p, i in enumerate(row)]
  logging.info('grid: %d students (%d seeds x %d settings) of %s, %d params each%s',
               len(configs), len(layout), len(layout[0]), config.model.name,
               models.param_count(models.init(model, steps.init_rng(0),
                                              data.image_shape)['params']),
               f'; methods {multi} in one program' if multi else '')
  step_model, tx = parts[0]
  if multi:  # a step per point, and hparams of every method for each
    point_steps = tuple(
        train.step_spec(c, data, m, t, methods.get(c.method).objective([c]))
        for c, (m, t) in zip([configs[i] for i in layout[0]], parts))
    objective = methods.Objective(  # what the shared teacher pass serves
        '+'.join(multi), None, tuple(sorted(
            {o for st in point_steps for o in st.objective.teacher_outputs})),
        teacher_train=any(st.objective.teacher_train for st in point_steps))
    hparams_of = lambda c: {m: methods.get(m).hparams_of(c) for m in multi}
    step_model, kind = model, 'unroll'  # the shared step predicts with the student
  else:
    point_steps, objective = (), method.objective(configs)
    hparams_of, kind = method.hparams_of, run_plan.grid
  writers = [outputs.summary_writer(os.path.join(workdirs[i], 'tensorboard'))
             for _, _, i in cells]
  try:
    state, histories, timing = loop.run_stage(
        loop.Stage('grid', grid_workdir, config.train.epochs, grid=kind,
                   points=tuple((s, p) for s, p, _ in cells),
                   labels=tuple(workdirs[i] for _, _, i in cells),
                   point_steps=point_steps),
        state=state, step=train.step_spec(config, data, step_model, tx, objective),
        hparams=grid(hparams_of), run_plan=run_plan, data=data, teacher=teacher,
        teacher_variables=teacher_variables, mesh=mesh, writers=writers)
  finally:
    for writer in writers:
      writer.close()

  results = []
  for (s, p, i), history in zip(cells, histories):
    point_state = steps.state_at(state, (s, p))
    point_mngr = checkpoint.manager(workdirs[i], keep=run_plan.checkpoint_keep)
    if point_mngr.latest_step() != int(point_state.step):  # not saved before a kill
      checkpoint.save(point_mngr, point_state, history)
    point_mngr.wait_until_finished()
    point_mngr.close()
    extra = {'seed': configs[i].seed, 'steps': int(point_state.step),
             'trained_on': train.trained_on(workdirs[i]),
             # The grid's time, shared by its students, and its share per student.
             'train_seconds': timing['train_seconds'] / len(configs),
             'compile_seconds': timing['compile_seconds'] / len(configs),
             'teacher_cache': timing['teacher_cache'] if reads_teacher[i] else None,
             'grid': {'workdir': grid_workdir, 'students': len(configs),
                      'methods': multi or [config.method],
                      'train_seconds': timing['train_seconds'],
                      'compile_seconds': timing['compile_seconds'],
                      'teacher_cache_seconds': timing['teacher_cache_seconds']}}
    if teacher_record is not None and reads_teacher[i]:
      extra['teacher'] = teacher_record
    results.append((i, train.finish(
        workdirs[i], configs[i], data, model,
        train.student_variables(methods.get(configs[i].method), configs[i],
                                steps.model_variables(point_state.params,
                                                      point_state.batch_stats), extra),
        history, extra)))
  return [m for _, m in sorted(results, key=lambda r: r[0])]
