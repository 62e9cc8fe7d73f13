"""On-device preprocessing and augmentation, traced into the jitted steps."""

import jax
import jax.numpy as jnp


def to_float(images, mean, std):
  """uint8 [B, H, W, C] -> float32 standardised with per-channel mean/std."""
  x = images.astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def random_translate(rng, images, max_shift: int):
  """Shifts each image by integers dx, dy uniform in [-max_shift, max_shift].

  Vacated pixels are 0 (black, for uint8 input). Shapes are unchanged.
  """
  if max_shift == 0:
    return images
  _, height, width, channels = images.shape
  pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
  padded = jnp.pad(images, pad)
  offsets = jax.random.randint(rng, (images.shape[0], 2), 0, 2 * max_shift + 1)
  crop = lambda img, o: jax.lax.dynamic_slice(
      img, (o[0], o[1], 0), (height, width, channels))
  return jax.vmap(crop)(padded, offsets)


def random_flip(rng, images):
  """Mirrors each image left-right with probability 1/2."""
  flip = jax.random.bernoulli(rng, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1, :], images)


def augment(rng, images, *, translate: int, flip: bool):
  """The training augmentation: translation (or pad-and-crop), then flip."""
  images = random_translate(rng, images, translate)
  return random_flip(jax.random.fold_in(rng, 1), images) if flip else images
