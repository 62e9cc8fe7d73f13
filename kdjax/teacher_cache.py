"""The teacher's outputs computed once per (training image, augmentation variant).

The teacher is frozen and runs in eval mode, and the augmentation draws each
example from V variants (`augment.num_variants`: 2 for flips alone,
(2t + 1)^2 * 2 for a t-pixel crop and flips). So the outputs a method reads
(logits for KD, the embedding for RKD) are a table [N, V, D] built before
training, and a step gathers `table[idx, v]` instead of running the teacher.

Rule (`plan`): the cache is used when `distill.teacher_cache` is on (the
default), the objective runs the teacher in eval mode (not a method with
`teacher_train`, whose teacher outputs depend on the batch), building it takes fewer teacher forwards than the stage would
(N * V < epochs * steps * batch) and the table of the outputs the stage's
objective reads (`Objective.teacher_outputs`: logits, the embedding, or
feature maps) fits in `MAX_BYTES`. The decision, the reason and the size are logged and recorded
in metrics.json.

Exactness: the table is built with the training batch size and the
training's compiler options, so it holds the values the step would compute
up to the rounding of a differently fused program (measured in
tests/test_teacher_cache.py).
"""

import dataclasses
import math
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from kdjax import models
from kdjax.data import augment

MAX_BYTES = 2 * 2**30  # the table lives on the device, beside the data


@dataclasses.dataclass(frozen=True)
class CachedTeacher:
  """Stands in for the teacher module in a step: its outputs are gathered
  from a table (passed where the teacher's variables would be). shapes:
  ((output, per-example shape), ...): the table stores each output flat, a
  lookup gives it back in the shape the teacher computes (feature maps
  [B, h, w, c] stay maps)."""
  outputs: tuple
  shapes: tuple = ()


@dataclasses.dataclass(frozen=True)
class Plan:
  use: bool
  reason: str
  variants: int
  bytes: int


def plan(*, enabled: bool, objective_name: str, outputs: tuple, num_examples: int,
         epochs: int, steps_per_epoch: int, batch_size: int, dims: dict,
         translate: int, flip: bool, teacher_train: bool = False) -> Plan:
  """Whether a stage uses the cache (see the module docstring); `outputs`
  are what its objective reads of the teacher, `dims` their widths."""
  v = augment.num_variants(translate=translate, flip=flip)
  size = 4 * num_examples * v * sum(dims.get(o, 0) for o in outputs)
  forwards, saved = num_examples * v, epochs * steps_per_epoch * batch_size
  if not enabled:
    return Plan(False, 'distill.teacher_cache=False', v, 0)
  if not outputs:
    return Plan(False, f'objective {objective_name!r} reads nothing of the '
                'teacher', v, 0)
  if teacher_train:
    return Plan(False, f'objective {objective_name!r} runs the teacher with the '
                "batch's BatchNorm statistics", v, 0)
  if forwards >= saved:
    return Plan(False, f'{num_examples} images x {v} variants = {forwards} '
                f'teacher forwards, not fewer than the {saved} of training', v, size)
  if size > MAX_BYTES:
    return Plan(False, f'the table would take {size / 2**30:.2f} GiB > '
                f'{MAX_BYTES / 2**30:.0f} GiB', v, size)
  return Plan(True, f'{num_examples} images x {v} variants = {forwards} teacher '
              f'forwards instead of {saved}', v, size)


def build(teacher, variables, images, *, outputs, translate: int, flip: bool,
          mean, std, batch_size: int, compiler_options=None) -> dict:
  """{output: float32 [N, V, D]}: the teacher's eval-mode outputs of every
  training image `images` (uint8 [N, H, W, C]) under every variant."""
  v = augment.num_variants(translate=translate, flip=flip)

  def forward(variables, batch, variant):
    x = augment.to_float(augment.apply(
        batch, jnp.full((batch.shape[0],), variant, jnp.int32),
        translate=translate, flip=flip), mean, std)
    logits, features = teacher.apply(variables, x, train=False,
                                     return_features=True)
    got = {'logits': logits, **features}
    return {o: got[o].reshape(batch.shape[0], -1).astype(jnp.float32)
            for o in outputs}

  n = images.shape[0]
  padded = -(-n // batch_size) * batch_size
  images = np.concatenate([images, np.zeros((padded - n, *images.shape[1:]),
                                            images.dtype)])
  args = (variables, jnp.asarray(images[:batch_size]), jnp.int32(0))
  compiled = jax.jit(forward).lower(*args).compile(compiler_options)
  start = time.perf_counter()
  columns = []
  for variant in range(v):
    parts = [compiled(variables, jnp.asarray(images[i:i + batch_size]),
                      jnp.int32(variant)) for i in range(0, padded, batch_size)]
    columns.append({o: np.concatenate([np.asarray(p[o]) for p in parts])[:n]
                    for o in outputs})
  table = {o: np.stack([c[o] for c in columns], axis=1) for o in outputs}
  logging.info('teacher cache: %s for %d images x %d variants built in %.1f s',
               ', '.join(f'{o} {t.shape[-1]}' for o, t in table.items()), n, v,
               time.perf_counter() - start)
  return table


def lookup(table, idx, variant, shapes=()):
  """The teacher's (logits or None, features) for examples `idx` [B] seen as
  `variant` [B], as a step that ran the teacher would have them (`shapes`:
  `CachedTeacher.shapes`, the per-example shape of each output)."""
  shapes = dict(shapes)
  got = {o: t[idx, variant].reshape((idx.shape[0],) + tuple(shapes.get(o, (t.shape[-1],))))
         for o, t in table.items()}
  logits = got.pop('logits', None)
  return logits, got


def output_dims(teacher, image_shape, outputs) -> dict:
  """{output: width} of the teacher's outputs, from shapes alone."""
  return {o: math.prod(shape) for o, shape in output_shapes(teacher, image_shape, outputs)}


def output_shapes(teacher, image_shape, outputs) -> tuple:
  """((output, per-example shape), ...) of the teacher's outputs."""
  shapes = models.feature_shapes(teacher, image_shape)
  return tuple((o, tuple(shapes[o].shape[1:])) for o in outputs)
