"""Pure train and eval steps: state and batch in, new state and metrics out.

Each step is written per shard with an optional `axis_name`, so the same code
runs on one device, under `jax.pmap`, or under `jax.shard_map`: gradients,
BatchNorm statistics and metrics are averaged (`lax.pmean`) across that axis.
PRNG keys are functions of (seed, step) only, so a resumed run replays the
same data order, augmentation and dropout as an uninterrupted one.
"""

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
from flax import struct
import jax
import jax.numpy as jnp
import optax

from kdjax import losses
from kdjax import methods
from kdjax import teacher_cache
from kdjax.data import augment
from kdjax.models import parts as models_parts

# Metric sums of the objective's named loss terms are f'{TERM}{name}'.
TERM = 'term/'
# Streams folded out of the run's root key.
_DATA, _AUGMENT, _DROPOUT, _INIT, _METHOD, _TEACHER = 0, 1, 2, 3, 4, 5


@struct.dataclass
class TrainState:
  step: jax.Array  # int32 []: optimizer updates applied so far.
  params: Any
  batch_stats: Any  # {} for models without BatchNorm.
  opt_state: Any
  rng: jax.Array  # uint32 [2]: the run's root key (from the seed).
  # What the method carries between steps (`Method.state`: CRD's memory
  # bank); {} for most methods.
  method_state: Any = struct.field(default_factory=dict)


def init_rng(seed: int):
  """The key that initialises a run's parameters."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), _INIT)


def stage_rng(seed: int, stage: int = 0):
  """Root key of a training stage (FitNets stage 1 is stage 1, else 0)."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), 100 + stage)


def create_state(variables, tx, rng, method_state=None) -> TrainState:
  """Step 0 of a stage: `rng` is its root key (see `stage_rng`);
  `method_state` the method's initial state (`Method.state`), if any."""
  params = variables['params']
  return TrainState(
      step=jnp.zeros((), jnp.int32), params=params,
      batch_stats=variables.get('batch_stats', {}), opt_state=tx.init(params),
      rng=rng, method_state=method_state or {})


def model_variables(params, batch_stats) -> dict:
  """The `variables` dict `Module.apply` takes."""
  return {'params': params, 'batch_stats': batch_stats} if batch_stats else {
      'params': params}


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Random translation (pixels, zero-filled) and flips of uint8 images,
  then normalisation with per-channel `mean` and `std` (pixel units / 255)."""
  translate: int = 0
  flip: bool = False
  mean: tuple = (0.0,)
  std: tuple = (1.0,)


class Inputs(NamedTuple):
  """What one step's students share (`Step.inputs`)."""
  x: jax.Array  # float32 [B, H, W, C]: the augmented, normalised batch.
  labels: jax.Array  # int32 [B].
  teacher_out: Any  # the teacher's eval-mode (logits, features); (None, None).
  dropout_rng: jax.Array
  indices: Any  # int32 [B]: the examples' indices in the training set, or None.
  method_rng: jax.Array  # the method's randomness (CRD's negatives).


@dataclasses.dataclass(frozen=True)
class Step:
  """One optimizer update of one student, with everything static about it.

  Call it as `step(state, batch, rng, teacher_variables, hparams)` ->
  (new state, metric sums over the batch). `batch` is (uint8 images
  [B, H, W, C], labels [B]) or (images, labels, example indices); the indices
  are needed when `teacher` is a `teacher_cache.CachedTeacher`, whose table is
  then passed as `teacher_variables`. `hparams` holds the objective's
  hyper-parameters as arrays (`Method.hparams_of`), so one compiled step
  serves every value. The teacher (eval mode, no gradient) sees the same
  augmented batch as the student.

  model: the student; tx: its optimizer; objective: what the stage
  minimises (`methods.Objective`); teacher: a module, a cached teacher or
  None; steps_per_epoch: the clock of the loss's hparams['epoch'] (0: epoch 1
  throughout); axis_name: the device axis under shard_map/pmap (see parallel).
  """
  model: nn.Module
  tx: optax.GradientTransformation
  objective: methods.Objective
  teacher: Any = None
  augmentation: Augmentation = Augmentation()
  steps_per_epoch: int = 0
  axis_name: str | None = None

  def on_axis(self, axis_name) -> 'Step':
    """This step, written per shard of `axis_name` (parallel.shard_step)."""
    return dataclasses.replace(self, axis_name=axis_name)

  def clock(self, state: TrainState):
    """(root key, step) of `state`."""
    return state.rng, state.step

  def inputs(self, batch, rng, teacher_variables) -> Inputs:
    """What one step's students share: the augmented batch, the teacher's
    outputs on it, the keys (`Inputs`)."""
    images, labels = batch[:2]
    if self.axis_name is not None:  # each shard draws its own augmentation and dropout
      rng = jax.random.fold_in(rng, jax.lax.axis_index(self.axis_name))
    aug_rng, dropout_rng, method_rng = (jax.random.fold_in(rng, s)
                                        for s in (_AUGMENT, _DROPOUT, _METHOD))
    aug = self.augmentation
    variant = augment.variants(aug_rng, images.shape[0], translate=aug.translate,
                               flip=aug.flip)
    x = augment.to_float(augment.apply(images, variant, translate=aug.translate,
                                       flip=aug.flip), aug.mean, aug.std)
    teacher_out = (None, None)
    if isinstance(self.teacher, teacher_cache.CachedTeacher):
      teacher_out = teacher_cache.lookup(teacher_variables, batch[2], variant,
                                         self.teacher.shapes)
    elif self.teacher is not None and getattr(self.objective, 'teacher_train', False):
      # Batch statistics in the teacher's BatchNorms; the updated running
      # averages are dropped (methods.Method.teacher_train).
      teacher_out = jax.lax.stop_gradient(self.teacher.apply(
          teacher_variables, x, train=True, return_features=True, mutable=['batch_stats'],
          rngs={'dropout': jax.random.fold_in(rng, _TEACHER)})[0])
    elif self.teacher is not None:
      teacher_out = jax.lax.stop_gradient(self.teacher.apply(
          teacher_variables, x, train=False, return_features=True))
    indices = batch[2] if len(batch) > 2 else None
    return Inputs(x, labels, teacher_out, dropout_rng, indices, method_rng)

  def update(self, state: TrainState, inputs: Inputs, hparams):
    """One optimizer update of one student on prepared inputs (`inputs`)."""
    x, labels, teacher_out = inputs.x, inputs.labels, inputs.teacher_out
    epoch = (state.step // self.steps_per_epoch + 1 if self.steps_per_epoch
             else jnp.ones((), jnp.int32))
    hparams = {**hparams, 'epoch': epoch.astype(jnp.float32)}

    # A method head that reads the teacher's features gets them as the
    # objective does (models.parts.reads_teacher).
    head_inputs = ({'teacher_features': teacher_out[1]}
                   if models_parts.reads_teacher(self.model) else {})

    def loss_fn(params):
      variables = model_variables(params, state.batch_stats)
      (logits, student_features), updates = self.model.apply(
          variables, x, train=True, return_features=True,
          rngs={'dropout': inputs.dropout_rng}, mutable=['batch_stats'], **head_inputs)
      loss, terms, method_state = self.objective(
          (logits, student_features), teacher_out, labels, hparams,
          state=state.method_state, context=methods.Context(
              inputs.indices, inputs.method_rng, self.axis_name))
      return loss, (logits, updates.get('batch_stats', {}), terms,
                    jax.lax.stop_gradient(method_state))

    (loss, (logits, batch_stats, terms, method_state)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    if self.axis_name is not None:
      grads, batch_stats = jax.lax.pmean((grads, batch_stats), self.axis_name)
    updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
    state = state.replace(
        step=state.step + 1, params=optax.apply_updates(state.params, updates),
        batch_stats=batch_stats, opt_state=opt_state, method_state=method_state)
    metrics = {'loss': loss * labels.shape[0],
               'correct': losses.correct(logits, labels).sum(),
               'count': jnp.asarray(labels.shape[0], jnp.float32),
               **{TERM + name: term * labels.shape[0] for name, term in terms.items()}}
    if self.axis_name is not None:
      metrics = jax.lax.psum(metrics, self.axis_name)
    return state, metrics

  def __call__(self, state: TrainState, batch, rng, teacher_variables, hparams):
    return self.update(state, self.inputs(batch, rng, teacher_variables), hparams)


@dataclasses.dataclass(frozen=True)
class GridStep:
  """`step` for a grid of students that share the seed: `state` and `hparams`
  carry a leading axis of points; the augmentation, dropout keys and the
  teacher's forward pass are computed once for all of them, and each student
  updates as its own run would. kind='vmap' vmaps the updates; 'unroll'
  writes them one after another into the program (faster for convolutions on
  XLA:CPU, which runs the grouped convolutions of a vmapped conv slowly).

  point_steps: for points of different methods ('unroll' only), each
  point's `Step` (its model with the method's parts, optimizer and
  objective; the rest is `step`'s). `state` is then a tuple with one
  `TrainState` per point (their parameters and method states differ in
  structure), each point's hparams are {method name: that method's
  hparams} and it reads its own method's. Returns (new states, metric sums
  per student, stacked)."""
  step: Step
  kind: str = 'vmap'
  point_steps: tuple = ()

  def on_axis(self, axis_name) -> 'GridStep':
    return dataclasses.replace(self, step=self.step.on_axis(axis_name))

  def clock(self, state):
    """(root key, step) the grid's points share."""
    if self.point_steps:
      return state[0].rng, state[0].step
    return state.rng[0], state.step[0]

  def _point(self, i, hparams):
    """(the step, hparams) of point i."""
    if not self.point_steps:
      return self.step, hparams
    own = self.point_steps[i]
    return (dataclasses.replace(self.step, model=own.model, tx=own.tx,
                                objective=own.objective),
            hparams[own.objective.name])

  def __call__(self, state, batch, rng, teacher_variables, hparams):
    inputs = self.step.inputs(batch, rng, teacher_variables)
    if self.point_steps:
      outs = []
      for i in range(len(self.point_steps)):
        step, hp = self._point(i, jax.tree.map(lambda a: a[i], hparams))
        outs.append(step.update(state[i], inputs, hp))
      # A term a point's objective lacks sums to NaN: none.
      names = {k for _, metrics in outs for k in metrics}
      metrics = [{k: m.get(k, jnp.float32(jnp.nan)) for k in names} for _, m in outs]
      return tuple(s for s, _ in outs), jax.tree.map(lambda *a: jnp.stack(a), *metrics)
    if self.kind == 'unroll':
      outs = [self.step.update(jax.tree.map(lambda a: a[i], state), inputs,
                               jax.tree.map(lambda a: a[i], hparams))
              for i in range(state.step.shape[0])]
      return jax.tree.map(lambda *a: jnp.stack(a), *outs)
    return jax.vmap(self.step.update, in_axes=(0, None, 0))(state, inputs, hparams)


def state_at(state, index) -> TrainState:
  """Student `index`'s `TrainState`: () of one run, (seed, point) of a grid's
  state (stacked [seeds, points], or a tuple of per-point states stacked
  [seeds]: `GridStep.point_steps`)."""
  if isinstance(state, tuple):
    return jax.tree.map(lambda x: x[index[0]], state[index[1]])
  return jax.tree.map(lambda x: x[index], state)


def student_variables(state, point_steps=()) -> dict:
  """The variables `predict` evaluates: a run's or a stacked grid's as they
  are (its model carries any method parts); of a tuple of per-point states
  (`GridStep.point_steps`), each point's own student's, stacked [seeds,
  points] (the points share the student's architecture)."""
  if not point_steps:
    return model_variables(state.params, state.batch_stats)
  own = []
  for point_step, point in zip(point_steps, state):
    variables = model_variables(point.params, point.batch_stats)
    if isinstance(point_step.model, models_parts.WithMethodParts):
      variables = models_parts.detach(variables)[0]
    own.append(variables)
  return jax.tree.map(lambda *a: jnp.stack(a, axis=1), *own)


def epoch_order(root_rng, epoch, num_examples: int, steps: int, batch_size: int):
  """Example indices [steps, batch_size] of one epoch (drops the remainder)."""
  key = jax.random.fold_in(jax.random.fold_in(root_rng, _DATA), epoch)
  order = jax.random.permutation(key, num_examples)
  return order[:steps * batch_size].reshape(steps, batch_size)


def epoch_batches(state: TrainState, num_examples: int, steps: int,
                  batch_size: int, *, step_fn):
  """Example indices [steps, batch_size] of the epoch `state` is in."""
  rng, step = step_fn.clock(state)
  return epoch_order(rng, step // steps, num_examples, steps, batch_size)


def train_epoch(state: TrainState, images, labels, teacher_variables, hparams, *,
                steps: int, batch_size: int, step_fn):
  """`steps` updates over one shuffled pass of on-device (images, labels).

  The epoch index is derived from `state.step`, the per-step key from
  (root key, step), so the function is pure. Returns (state, metric sums).
  """
  order = epoch_batches(state, labels.shape[0], steps, batch_size, step_fn=step_fn)
  body = lambda state, idx: indexed_step(state, images, labels, idx,
                                         teacher_variables, hparams, step_fn=step_fn)
  state, metrics = jax.lax.scan(body, state, order)
  return state, jax.tree.map(lambda m: m.sum(0), metrics)


def indexed_step(state: TrainState, images, labels, idx, teacher_variables,
                 hparams, *, step_fn):
  """`step_fn` on examples `idx` [B] of the on-device data, with the key of
  (root key, step): one step of `train_epoch`, also usable on its own."""
  rng, step = step_fn.clock(state)
  return step_fn(state, (images[idx], labels[idx], idx),
                 jax.random.fold_in(rng, step), teacher_variables, hparams)


def predict(variables, images, *, model: nn.Module, mean, std, batch_size: int):
  """Eval-mode logits [N, C] for uint8 images [N, H, W, C], in fixed batches."""
  n = images.shape[0]
  padded = -(-n // batch_size) * batch_size
  images = jnp.pad(images, ((0, padded - n),) + ((0, 0),) * (images.ndim - 1))
  batches = images.reshape((-1, batch_size) + images.shape[1:])
  logits = jax.lax.map(
      lambda x: model.apply(variables, augment.to_float(x, mean, std),
                            train=False), batches)
  return logits.reshape((padded, -1))[:n]


def grid_epoch(states: TrainState, images, labels, teacher_variables, hparams, *,
               steps: int, batch_size: int, step_fn):
  """`train_epoch` for a grid of students [seeds, points]: `states` and
  `hparams` carry both leading axes (a tuple of per-point states, only the
  seeds': `GridStep.point_steps`); `step_fn` is a `GridStep`.
  Points of one seed share data order, augmentation, dropout keys and the
  teacher's forward pass; seeds are vmapped. One program trains the grid and
  each student ends as its own run would (returns per-student metric sums).
  """
  epoch = lambda state, hp: train_epoch(
      state, images, labels, teacher_variables, hp, steps=steps,
      batch_size=batch_size, step_fn=step_fn)
  return jax.vmap(epoch)(states, hparams)
