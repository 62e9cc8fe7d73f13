"""Pure train and eval steps: state and batch in, new state and metrics out.

Each step is written per shard with an optional `axis_name`, so the same code
runs on one device, under `jax.pmap`, or under `jax.shard_map`: gradients,
BatchNorm statistics and metrics are averaged (`lax.pmean`) across that axis.
PRNG keys are functions of (seed, step) only, so a resumed run replays the
same data order, augmentation and dropout as an uninterrupted one.
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
from flax import struct
import jax
import jax.numpy as jnp
import optax

from kdjax import losses
from kdjax import teacher_cache
from kdjax.data import augment

# Streams folded out of the run's root key.
_DATA, _AUGMENT, _DROPOUT, _INIT = 0, 1, 2, 3


@struct.dataclass
class TrainState:
  step: jax.Array  # int32 []: optimizer updates applied so far.
  params: Any
  batch_stats: Any  # {} for models without BatchNorm.
  opt_state: Any
  rng: jax.Array  # uint32 [2]: the run's root key (from the seed).


def init_rng(seed: int):
  """The key that initialises a run's parameters."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), _INIT)


def stage_rng(seed: int, stage: int = 0):
  """Root key of a training stage (FitNets stage 1 is stage 1, else 0)."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), 100 + stage)


def create_state(variables, tx, rng) -> TrainState:
  """Step 0 of a stage: `rng` is its root key (see `stage_rng`)."""
  params = variables['params']
  return TrainState(
      step=jnp.zeros((), jnp.int32), params=params,
      batch_stats=variables.get('batch_stats', {}), opt_state=tx.init(params),
      rng=rng)


def model_variables(params, batch_stats) -> dict:
  """The `variables` dict `Module.apply` takes."""
  return {'params': params, 'batch_stats': batch_stats} if batch_stats else {
      'params': params}


@dataclasses.dataclass(frozen=True)
class Objective:
  """What a training stage minimises (static: picks the code path).

  name: 'none' (cross-entropy), 'kd' (Hinton), 'hint' (FitNets stage 1) or
    'rkd' (CE + distance- and optionally angle-wise RKD).
  hint_layer: the teacher feature that 'hint' regresses onto.
  rkd_angle: include the angle-wise term (O(B^3); off unless weighted).
  """
  name: str
  hint_layer: str = ''
  rkd_angle: bool = False


def objective_loss(objective: Objective, student, teacher, labels, hparams):
  """Scalar loss; `student`/`teacher` are (logits [B, C], features dict).

  `hparams` holds arrays: temperature, alpha (KD), rkd_distance and
  rkd_angle (the weights beta and gamma of the RKD terms).
  """
  (s_logits, s_features), (t_logits, t_features) = student, teacher
  if objective.name == 'none':
    return losses.cross_entropy(s_logits, labels)
  if objective.name == 'kd':
    return losses.kd_loss(s_logits, t_logits, labels,
                          temperature=hparams['temperature'],
                          alpha=hparams['alpha'])
  if objective.name == 'hint':
    return losses.hint_loss(s_features['regressed'],
                            t_features[objective.hint_layer])
  if objective.name == 'rkd':
    s_emb, t_emb = s_features['embedding'], t_features['embedding']
    loss = losses.cross_entropy(s_logits, labels) + hparams['rkd_distance'] * (
        losses.rkd_distance_loss(s_emb, t_emb))
    if objective.rkd_angle:
      loss += hparams['rkd_angle'] * losses.rkd_angle_loss(s_emb, t_emb)
    return loss
  raise ValueError(f'unknown objective {objective.name!r}')


def step_inputs(batch, rng, teacher_variables, *, teacher, translate: int, mean,
                std, flip: bool = False, axis_name=None):
  """What one step's students share: the augmented float batch [B, H, W, C],
  labels [B], the teacher's eval-mode (logits, features) on that batch (no
  gradient; (None, None) without a teacher) and the dropout key.

  `batch` is (uint8 images, labels) or (images, labels, example indices);
  the indices are needed when `teacher` is a `teacher_cache.CachedTeacher`,
  whose outputs are then read from the table passed as `teacher_variables`.
  """
  images, labels = batch[:2]
  if axis_name is not None:  # each shard draws its own augmentation and dropout
    rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
  aug_rng, dropout_rng = (jax.random.fold_in(rng, s) for s in (_AUGMENT, _DROPOUT))
  variant = augment.variants(aug_rng, images.shape[0], translate=translate, flip=flip)
  x = augment.to_float(augment.apply(images, variant, translate=translate,
                                     flip=flip), mean, std)
  teacher_out = (None, None)
  if isinstance(teacher, teacher_cache.CachedTeacher):
    teacher_out = teacher_cache.lookup(teacher_variables, batch[2], variant)
  elif teacher is not None:
    teacher_out = jax.lax.stop_gradient(teacher.apply(
        teacher_variables, x, train=False, return_features=True))
  return x, labels, teacher_out, dropout_rng


def student_update(state: TrainState, x, labels, teacher_out, dropout_rng, hparams,
                   *, model: nn.Module, tx: optax.GradientTransformation,
                   objective: Objective, axis_name=None):
  """One optimizer update of one student on prepared inputs (`step_inputs`)."""
  def loss_fn(params):
    variables = model_variables(params, state.batch_stats)
    (logits, student_features), updates = model.apply(
        variables, x, train=True, return_features=True,
        rngs={'dropout': dropout_rng}, mutable=['batch_stats'])
    loss = objective_loss(objective, (logits, student_features), teacher_out,
                          labels, hparams)
    return loss, (logits, updates.get('batch_stats', {}))

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)
  if axis_name is not None:
    grads, batch_stats = jax.lax.pmean((grads, batch_stats), axis_name)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  state = state.replace(
      step=state.step + 1, params=optax.apply_updates(state.params, updates),
      batch_stats=batch_stats, opt_state=opt_state)
  metrics = {'loss': loss * labels.shape[0],
             'correct': losses.correct(logits, labels).sum(),
             'count': jnp.asarray(labels.shape[0], jnp.float32)}
  if axis_name is not None:
    metrics = jax.lax.psum(metrics, axis_name)
  return state, metrics


def train_step(state: TrainState, batch, rng, teacher_variables, hparams, *,
               model: nn.Module, tx: optax.GradientTransformation,
               teacher: nn.Module | None, objective: Objective, translate: int,
               mean, std, flip: bool = False, axis_name=None, grid: str = ''):
  """One optimizer update on `batch` = (uint8 images [B, H, W, C], labels [B]).

  The teacher (eval mode, no gradient) sees the same augmented batch as the
  student. `hparams` holds the objective's hyper-parameters as arrays.
  grid='vmap' or 'unroll': `state` and `hparams` carry a leading axis of
  students that share the seed, so the augmentation, dropout keys and the
  teacher's forward pass are computed once for all of them (each student as
  its own run would); the students' updates are vmapped, or unrolled one
  after another in the program (faster for convolutions on XLA:CPU, which
  runs the grouped convolutions of a vmapped conv slowly).
  Returns (new state, metric sums over the batch, per student under grid).
  """
  x, labels, teacher_out, dropout_rng = step_inputs(
      batch, rng, teacher_variables, teacher=teacher, translate=translate,
      mean=mean, std=std, flip=flip, axis_name=axis_name)
  update = functools.partial(student_update, model=model, tx=tx,
                             objective=objective, axis_name=axis_name)
  if grid == 'unroll':
    points = state.step.shape[0]
    outs = [update(jax.tree.map(lambda a: a[i], state), x, labels, teacher_out,
                   dropout_rng, jax.tree.map(lambda a: a[i], hparams))
            for i in range(points)]
    return jax.tree.map(lambda *a: jnp.stack(a), *outs)
  if grid == 'vmap':
    update = jax.vmap(update, in_axes=(0, None, None, None, None, 0))
  return update(state, x, labels, teacher_out, dropout_rng, hparams)


def _clock(state: TrainState):
  """(root key, step) of a state, or of a grid of states that share them."""
  if state.step.ndim == 0:
    return state.rng, state.step
  return state.rng[0], state.step[0]


def epoch_order(root_rng, epoch, num_examples: int, steps: int, batch_size: int):
  """Example indices [steps, batch_size] of one epoch (drops the remainder)."""
  key = jax.random.fold_in(jax.random.fold_in(root_rng, _DATA), epoch)
  order = jax.random.permutation(key, num_examples)
  return order[:steps * batch_size].reshape(steps, batch_size)


def epoch_batches(state: TrainState, num_examples: int, steps: int,
                  batch_size: int):
  """Example indices [steps, batch_size] of the epoch `state` is in."""
  rng, step = _clock(state)
  return epoch_order(rng, step // steps, num_examples, steps, batch_size)


def train_epoch(state: TrainState, images, labels, teacher_variables, hparams, *,
                steps: int, batch_size: int, step_fn):
  """`steps` updates over one shuffled pass of on-device (images, labels).

  The epoch index is derived from `state.step`, the per-step key from
  (root key, step), so the function is pure. Returns (state, metric sums).
  """
  order = epoch_batches(state, labels.shape[0], steps, batch_size)
  body = lambda state, idx: indexed_step(state, images, labels, idx,
                                         teacher_variables, hparams, step_fn=step_fn)
  state, metrics = jax.lax.scan(body, state, order)
  return state, jax.tree.map(lambda m: m.sum(0), metrics)


def indexed_step(state: TrainState, images, labels, idx, teacher_variables,
                 hparams, *, step_fn):
  """`step_fn` on examples `idx` [B] of the on-device data, with the key of
  (root key, step): one step of `train_epoch`, also usable on its own."""
  rng, step = _clock(state)
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
  `hparams` carry both leading axes; `step_fn` is a `train_step(grid=...)`.
  Points of one seed share data order, augmentation, dropout keys and the
  teacher's forward pass; seeds are vmapped. One program trains the grid and
  each student ends as its own run would (returns per-student metric sums).
  """
  epoch = lambda state, hp: train_epoch(
      state, images, labels, teacher_variables, hp, steps=steps,
      batch_size=batch_size, step_fn=step_fn)
  return jax.vmap(epoch)(states, hparams)
