"""Layers shared by the models."""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def dense(features: int, *, dtype: Any = jnp.float32, name=None, **kwargs) -> nn.Dense:
  """`nn.Dense` computing in `dtype` with float32 parameters.

  With a 16-bit `dtype` the products accumulate in, and come out as,
  float32: the fast bfloat16 path of XLA:CPU (AMX; bf16 outputs were slower
  than float32 there) and the usual mixed precision of GPUs.
  """
  if jnp.dtype(dtype) != jnp.float32:
    kwargs['dot_general'] = functools.partial(
        jax.lax.dot_general, preferred_element_type=jnp.float32)
  return nn.Dense(features, dtype=dtype, name=name, **kwargs)


def conv(features: int, kernel_size, *, dtype: Any = jnp.float32, name=None,
         **kwargs) -> nn.Conv:
  """`nn.Conv` computing in `dtype` with float32 parameters (as `dense`)."""
  if jnp.dtype(dtype) != jnp.float32:
    kwargs['conv_general_dilated'] = functools.partial(
        jax.lax.conv_general_dilated, preferred_element_type=jnp.float32)
  return nn.Conv(features, kernel_size, dtype=dtype, name=name, **kwargs)


def batch_norm(train: bool, name: str, axis_name=None) -> nn.BatchNorm:
  """BatchNorm with PyTorch's defaults (momentum 0.1 = Flax's 0.9, eps 1e-5).

  `axis_name` averages the batch statistics across the devices of that axis
  (synchronised BN), so a step on several devices normalises as on one.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      axis_name=axis_name, name=name)


def max_pool_2x2(x):
  """2x2 max-pool, stride 2, of [B, H, W, C]; an odd last row or column is
  dropped, as by `nn.max_pool`'s 'VALID' padding (e.g. 7x7 -> 3x3).

  Same values and gradient as `nn.max_pool(x, (2, 2), strides=(2, 2))` (the
  gradient goes to the first maximum of each window, row-major), written
  with reshapes: XLA:CPU runs the select-and-scatter of `nn.max_pool`'s
  gradient ~9x slower (measured: gradient of the pool at 128x32x32x64,
  96 vs 11 ms on 2 CPU cores).
  """
  _, h, w, _ = x.shape
  return _max_pool_even(x[:, :h - h % 2, :w - w % 2])


@jax.custom_vjp
def _max_pool_even(x):
  return _windows(x).max(axis=(2, 4))


def _windows(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c)


def _max_pool_fwd(x):
  y = _max_pool_even(x)
  return y, (x, y)


def _max_pool_bwd(residuals, g):
  x, y = residuals
  windows = _windows(x)
  taken = jnp.zeros(y.shape, bool)
  rows = []
  for i in range(2):  # window positions in row-major order
    row = []
    for j in range(2):
      first = (windows[:, :, i, :, j, :] == y) & ~taken
      taken |= first
      row.append(jnp.where(first, g, 0).astype(g.dtype))
    rows.append(jnp.stack(row, axis=3))
  return (jnp.stack(rows, axis=2).reshape(x.shape),)


_max_pool_even.defvjp(_max_pool_fwd, _max_pool_bwd)
