"""On-device preprocessing and augmentation, traced into the jitted steps.

The training augmentation draws each example's variant from a finite set:
a shift (dy, dx) in [-t, t]^2 and, with flips on, a mirror bit, so
V = (2t + 1)^2 * (2 if flip else 1) variants per image. `variants` draws the
index v of each example, `apply` makes the images of given indices; the
teacher-output cache (`kdjax.teacher_cache`) keys on (image, v).
"""

import jax
import jax.numpy as jnp


def to_float(images, mean, std):
  """uint8 [B, H, W, C] -> float32 standardised with per-channel mean/std."""
  x = images.astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def num_variants(*, translate: int, flip: bool) -> int:
  """How many distinct augmentations one image can receive."""
  return (2 * translate + 1) ** 2 * (2 if flip else 1)


def variants(rng, batch: int, *, translate: int, flip: bool):
  """Variant indices int32 [batch] of one batch's augmentation.

  v = (oy * (2t + 1) + ox) * F + f with crop offsets oy, ox in [0, 2t] (a
  shift of o - t pixels), F = 2 with flips (f = 1: mirrored), else 1.
  """
  v = jnp.zeros((batch,), jnp.int32)
  if translate:
    offsets = jax.random.randint(rng, (batch, 2), 0, 2 * translate + 1)
    v = offsets[:, 0] * (2 * translate + 1) + offsets[:, 1]
  if flip:
    mirror = jax.random.bernoulli(jax.random.fold_in(rng, 1), 0.5, (batch, 1, 1, 1))
    v = 2 * v + mirror.reshape(batch).astype(jnp.int32)
  return v


def apply(images, variant, *, translate: int, flip: bool):
  """Images [B, H, W, C] with variant `variant` [B] (see `variants`) applied:
  translated with zero fill (pad t, crop at the offsets), then mirrored."""
  mirror = None
  if flip:
    variant, mirror = variant // 2, variant % 2
  if translate:
    _, height, width, channels = images.shape
    side = 2 * translate + 1
    pad = ((0, 0), (translate, translate), (translate, translate), (0, 0))
    crop = lambda img, oy, ox: jax.lax.dynamic_slice(
        img, (oy, ox, 0), (height, width, channels))
    images = jax.vmap(crop)(jnp.pad(images, pad), variant // side, variant % side)
  if mirror is not None:
    images = jnp.where(mirror[:, None, None, None] == 1, images[:, :, ::-1, :], images)
  return images


def augment(rng, images, *, translate: int, flip: bool):
  """The training augmentation: translation (or pad-and-crop), then flip."""
  v = variants(rng, images.shape[0], translate=translate, flip=flip)
  return apply(images, v, translate=translate, flip=flip)
