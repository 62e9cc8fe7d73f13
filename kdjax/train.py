"""Training and evaluation of one run: `train_and_evaluate(config, workdir)`.

A run trains a student (or a teacher: method 'none'), checkpoints every
`checkpoint.every_epochs`, resumes from its workdir's latest checkpoint, and
ends by writing metrics.json, predictions/test.npz and TensorBoard events.
The method (`kdjax/methods/`) supplies the objective; the epoch loop is
`loop.run_stage`, shared with grids; the workdir's life is `workdir`.
"""

import contextlib
import functools
import json
import os

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import evaluate
from kdjax import faults
from kdjax import loop
from kdjax import methods
from kdjax import models
from kdjax import optim
from kdjax import outputs
from kdjax import parallel
from kdjax import provenance
from kdjax import steps
from kdjax import workdir as workdir_lib

# Keys a re-evaluation may change: where the data is read from (the test set
# itself is checked by its fingerprint) and how latency is timed.
_EVAL_CHANGES = ('dataset.data_dir', 'dataset.source', 'dataset.download',
                 'teacher.', 'train.eval_batch_size', 'train.devices',
                 'train.distributed', 'checkpoint.', 'latency.')


def variable_shapes(model, image_shape):
  """The shapes of `model`'s variables for images of `image_shape`."""
  return jax.eval_shape(functools.partial(
      models.init, model, jax.random.PRNGKey(0), image_shape))


def finish(workdir, config, data, model, variables, history, extra):
  """Writes predictions/test.npz and metrics.json from final `variables`.

  Every process computes them on its own first device (from a host copy of
  the replicated variables); only the primary one writes.
  """
  variables = jax.device_put(jax.device_get(variables))  # on this process's device
  predict = loop.predictor(loop.plan(config), data, model)
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
      'epochs': len(history), 'history': history, 'finished': True,
      'jax_version': jax.__version__, **extra}
  if data.validation is not None:
    metrics['validation'] = evaluate.classification_metrics(
        predict(variables, jnp.asarray(data.validation.images)),
        data.validation.labels)
  if parallel.is_primary():
    outputs.write_json(os.path.join(workdir, 'metrics.json'), metrics)
  return metrics


def step_spec(config, data, model, tx, objective) -> steps.Step:
  """The `steps.Step` of a stage (its teacher is set by `loop.run_stage`)."""
  return steps.Step(model=model, tx=tx, objective=objective,
                    augmentation=steps.Augmentation(
                        translate=config.dataset.translate, flip=config.dataset.flip,
                        mean=data.mean, std=data.std))


def with_parts(head, config, model, variables, feature_shapes, rng):
  """(the step's model, its variables): the student with the parts of `head`
  (`Method.head` or `Stage.head`; None: none) beside it, initialised from
  `rng` (the stage's root key) for the (student, teacher) features of
  `feature_shapes` (`models.WithMethodParts`), or as given."""
  if head is None:
    return model, variables
  module = head(config, *feature_shapes)
  return (models.WithMethodParts(model, module),
          models.parts.attach(variables, models.parts.init_head(
              module, rng, feature_shapes[0], feature_shapes[1])))


def main_state(method, config, model, variables, shapes, tx, train_labels,
               stage_parts=None, teacher_variables=None):
  """(the step's model, the main stage's state at step 0): the student with
  the method's parts (`with_parts`) and the method's initial state
  (`Method.state`, for the (student, teacher) feature `shapes`, the
  training set's int labels [N], the trained parts of its stages,
  {stage name: params}, and the teacher's variables), both from the stage's
  root key."""
  rng = steps.stage_rng(config.seed)
  step_model, variables = with_parts(method.head, config, model, variables, shapes, rng)
  method_state = None
  if method.state is not None:
    method_state = method.state(config, np.asarray(train_labels), *shapes,
                                jax.random.fold_in(rng, 1), stage_parts=stage_parts or {},
                                teacher_variables=teacher_variables)
  return step_model, steps.create_state(variables, tx, rng, method_state)


def feature_shapes(method, model, teacher, image_shape):
  """(student, teacher) feature shapes ({name: shape struct [1, ...]}; the
  teacher's {} without one) that a method's heads and state are built for."""
  if method.head is None and not method.stages and method.state is None:
    return {}, {}
  return (models.feature_shapes(model, image_shape),
          models.feature_shapes(teacher, image_shape) if teacher is not None else {})


def optimizer(method, config, steps_per_epoch):
  """The main stage's optimizer over `config.train.epochs` epochs of
  `steps_per_epoch`: `config.optimizer`, and for the method's own parts
  (`with_parts`) the method's, where it names one."""
  total_steps = steps_per_epoch * config.train.epochs
  tx = optim.create(config.optimizer, total_steps, steps_per_epoch)
  if method.head is None or method.parts_optimizer is None:
    return tx
  labels = lambda params: {k: jax.tree.map(lambda _: k, v) for k, v in params.items()}
  return optax.multi_transform(
      {'student': tx, 'method': optim.create(method.parts_optimizer(config), total_steps,
                                             steps_per_epoch)},
      labels)


def student_variables(method, config, variables, extra):
  """The student's own variables of trained `variables` (`with_parts`'); the
  method's trained parts, if any, go to `extra['method_parts']` (metrics.json)."""
  if method.head is None:
    return variables
  variables, parts = models.parts.detach(variables)
  extra['method_parts'] = method.describe_parts(config, jax.device_get(parts))
  return variables


def run_method_stage(stage, index, *, config, run_plan, workdir, data, student,
                     variables, teacher, teacher_variables, shapes, writer, mesh):
  """Trains a method's `stage` (`methods.Stage`, the `index`-th, from 1) in
  workdir/<stage name>: the student's `stage.trainable` submodules (the rest
  frozen) and the stage's parts, by the stage's optimizer. Returns the
  student's variables after it, the stage's trained parts (params; {}
  without), its history and timing."""
  rng = steps.stage_rng(config.seed, index)
  model, stage_vars = with_parts(stage.head, config, student, variables, shapes, rng)
  trainable = stage.trainable(config, student)
  labels = {k: 'train' if trainable is None or k in trainable else 'frozen'
            for k in variables['params']}
  if stage.head is not None:
    labels = {'student': labels, 'method': 'train'}
  epochs = methods.base.lookup(config, stage.epochs_key)
  tx = optax.multi_transform(
      {'train': optim.create(methods.base.lookup(config, stage.optimizer_key),
                             run_plan.steps_per_epoch(data) * epochs,
                             run_plan.steps_per_epoch(data)),
       'frozen': optax.set_to_zero()}, labels)
  state = steps.create_state(stage_vars, tx, rng)
  state, (history,), timing = loop.run_stage(
      loop.Stage(stage.name, os.path.join(workdir, stage.name), epochs, stage.epochs_key),
      state=state, step=step_spec(config, data, model, tx, stage.objective(config)),
      hparams={}, run_plan=run_plan, data=data, teacher=teacher,
      teacher_variables=teacher_variables, mesh=mesh, writers=[writer])
  out, stage_parts = steps.model_variables(state.params, state.batch_stats), {}
  if stage.head is not None:
    out, stage_parts = models.parts.detach(out)
  return out, stage_parts, history, timing


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
  workdir_lib.check_same_run(workdir, config_json)
  parts = setup(config)  # data and teacher: refused before anything is created
  workdir_lib.make(workdir)
  # Processes of a multi-host run share the workdir: the primary holds it.
  with workdir_lib.exclusive(workdir) if parallel.is_primary() else contextlib.nullcontext():
    workdir_lib.check_same_run(workdir, config_json)  # no other process started it meanwhile
    return _train_and_evaluate(config, workdir, config_json, parts)


def check_features(config, method, student, teacher, image_shape):
  """Refuses a method whose student or teacher features the models lack."""
  shapes = {'student': models.feature_shapes(student, image_shape)}
  if teacher is not None:
    shapes['teacher'] = models.feature_shapes(teacher, image_shape)
  wanted = method.features(config, method.options([config]))
  for who, names, model_config in zip(('student', 'teacher'), wanted,
                                      (config.model, config.teacher.model)):
    for name in names:
      if who in shapes and name not in shapes[who]:
        raise errors.ConfigError(
            f'method={method.name!r} reads the {who} feature {name!r}, which '
            f'{model_config.name!r} does not have; expected one of '
            f'{sorted(k for k in shapes[who] if k != "logits")}')
  if teacher is not None:
    method.check_features(config, shapes['student'], shapes['teacher'])


def setup(config):
  """(mesh, student, data, teacher, teacher variables, teacher record) of a
  run; the teacher parts are None for a method without a teacher. Checks the
  batch against mesh and data, the method's features against the models, and
  that the teacher's run finished (unless `teacher.allow_unfinished`)."""
  mesh = parallel.make_mesh(config.train.devices)
  parallel.check_batch(config.train.batch_size, mesh.size)
  axis_name = parallel.AXIS if mesh.size > 1 else None
  num_classes = data_lib.num_classes(config.dataset)
  dtype = config.train.compute_dtype
  method = methods.get(config.method)
  model = models.create(config.model, num_classes, axis_name=axis_name, dtype=dtype)
  teacher = teacher_variables = teacher_record = None
  if method.needs_teacher:
    teacher = models.create(config.teacher.model, num_classes, dtype=dtype)
    finished = workdir_lib.finished_steps(config.teacher.workdir)
  data = data_lib.load(config.dataset)
  if len(data.train) < config.train.batch_size:
    raise errors.ConfigError(
        f'train.batch_size={config.train.batch_size} exceeds the '
        f'{len(data.train)} training examples; expected a smaller batch')
  check_features(config, method, model, teacher, data.image_shape)
  if teacher is not None:
    variables, step = checkpoint.load_variables(
        config.teacher.workdir, variable_shapes(teacher, data.image_shape))
    if step != finished and not config.teacher.allow_unfinished:
      raise errors.ConfigError(
          f'teacher.workdir={config.teacher.workdir!r} ' + (
              'never finished (no metrics.json of a finished run)' if finished is None
              else f'finished at step {finished} but its newest readable '
              f'checkpoint is step {step}') +
          '; expected a finished teacher run (or teacher.allow_unfinished=True)')
    teacher_variables = loop.placer(mesh)(variables)
    teacher_record = {'workdir': config.teacher.workdir, 'step': step,
                      'sha256': models.fingerprint(variables),  # BN statistics too
                      # = the teacher run's own metrics.json `params_sha256`:
                      'params_sha256': models.fingerprint(variables['params'])}
  return mesh, model, data, teacher, teacher_variables, teacher_record


def trained_on(workdir):
  """metrics.json's `trained_on` for the run in `workdir`: this machine
  (`provenance.record`), or for a finished run re-run (single or a grid's
  point: it trains nothing) the machine its metrics.json recorded, None where
  it recorded none (trained before kdjax recorded machines): this machine
  did not train it."""
  if workdir_lib.finished_steps(workdir) is not None:
    return outputs.read_json(os.path.join(workdir, 'metrics.json')).get('trained_on')
  return provenance.record()


def _train_and_evaluate(config, workdir, config_json, parts):
  mesh, model, data, teacher, teacher_variables, teacher_record = parts
  method = methods.get(config.method)
  variables = models.init(model, steps.init_rng(config.seed), data.image_shape)
  logging.info('%s: %s, %d params; %s, %d train / %d test examples',
               workdir, config.model.name, models.param_count(variables['params']),
               data.source, len(data.train), len(data.test))
  writer = None
  if parallel.is_primary():
    if teacher_record is not None:
      workdir_lib.bind_teacher(workdir, teacher_record, workdir_lib.started(workdir))
    outputs.write_json(os.path.join(workdir, 'config.json'), config_json)
    writer = outputs.summary_writer(os.path.join(workdir, 'tensorboard'))
  extra = {'seed': config.seed, 'trained_on': trained_on(workdir)}
  shapes = feature_shapes(method, model, teacher, data.image_shape)
  run_plan = loop.plan(config)
  stage_parts = {}
  try:
    for index, stage in enumerate(method.stages, start=1):
      variables, stage_parts[stage.name], history, timing = run_method_stage(
          stage, index, config=config, run_plan=run_plan, workdir=workdir, data=data,
          student=model, variables=variables, teacher=teacher,
          teacher_variables=teacher_variables, shapes=shapes, writer=writer, mesh=mesh)
      extra.update({f'{stage.name}_history': history,
                    f'{stage.name}_train_seconds': timing['train_seconds']})
      faults.crash_point('stage_switch')
    tx = optimizer(method, config, run_plan.steps_per_epoch(data))
    step_model, state = main_state(method, config, model, variables, shapes, tx,
                                   data.train.labels, stage_parts, teacher_variables)
    state, (history,), timing = loop.run_stage(
        loop.Stage('train', workdir, config.train.epochs), state=state,
        step=step_spec(config, data, step_model, tx, method.objective([config])),
        hparams=method.hparams_of(config), run_plan=run_plan, data=data,
        teacher=teacher, teacher_variables=teacher_variables, mesh=mesh,
        writers=[writer])
  finally:
    if writer is not None:
      writer.close()

  extra.update(timing, steps=int(state.step))
  if teacher_record is not None:
    extra['teacher'] = teacher_record
  metrics = finish(workdir, config, data, model, student_variables(
      method, config, steps.model_variables(state.params, state.batch_stats), extra),
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
  changes = workdir_lib.config_changes(workdir, json.loads(config.to_json()), _EVAL_CHANGES)
  if changes:
    raise errors.ConfigError(
        f'workdir {workdir!r} holds a run with ' + ', '.join(
            f'{k}={old!r}' for k, old, _ in changes) + '; this config has ' +
        ', '.join(f'{k}={new!r}' for k, _, new in changes) + '; expected the '
        "run's own config (only the data location may change)")
  with workdir_lib.exclusive(workdir):
    return _evaluate_checkpoint(config, workdir)


def restore_run(config, workdir, model, image_shape):
  """(variables of the student and the method's parts, step) of the newest
  readable checkpoint of the run `config` trained in `workdir`
  (`student_variables` separates the two)."""
  method = methods.get(config.method)
  teacher = (models.create(config.teacher.model, data_lib.num_classes(config.dataset))
             if method.head is not None and method.needs_teacher else None)
  return checkpoint.load_variables(
      workdir, with_parts(method.head, config, model, variable_shapes(model, image_shape),
                          feature_shapes(method, model, teacher, image_shape),
                          steps.stage_rng(config.seed))[1], what='run')


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
  method = methods.get(config.method)
  variables, step = restore_run(config, workdir, model, data.image_shape)
  # The run's own record where it finished once (the training set read here
  # may be another copy); else what its config trains.
  total = old.get('steps')  # 0 for a teacher imported by kdjax.convert
  if total is None:
    total = loop.plan(config).steps_per_epoch(data) * config.train.epochs
  if step < total:
    logging.warning('%s: unfinished run: evaluating step %d of its %d (killed, or '
                    'the newer checkpoints are unreadable); metrics.json records '
                    'finished: false', workdir, step, total)
  history = old.pop('history', [])
  extra = {k: v for k, v in old.items() if k in (
      'train_seconds', 'compile_seconds', 'teacher_cache_seconds', 'steps',
      'seed', 'teacher', 'teacher_cache', 'grid', 'trained_on') or k in {
          f'{stage.name}_{what}' for stage in method.stages
          for what in ('history', 'train_seconds')}}
  extra.update(evaluated_step=step, finished=step >= total)
  variables = student_variables(method, config, variables, extra)
  metrics = finish(workdir, config, data, model, variables, history, extra)
  logging.info('%s: re-evaluated step %d: test accuracy %.2f%% (%d errors), '
               '%.3f ms/sample', workdir, step, metrics['test']['accuracy'],
               metrics['test']['errors'], metrics['latency']['ms_per_sample_median'])
  return metrics
