"""Layers shared by the models."""

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# A model's `param_init` field: 'flax' (Flax's defaults: LeCun-normal kernels,
# zero biases) or 'torch' (the weights the PyTorch reference model draws).
INITS = ('flax', 'torch')


def uniform(bound: float):
  """Initializer drawing from U(-bound, bound)."""
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def initializers(scheme: str, fan_in: int) -> dict:
  """kernel_init/bias_init of one layer whose weights see `fan_in` inputs.

  Schemes (PyTorch's names; fan_in = in_features, or in_channels / groups *
  kh * kw; fan_out = out_channels * kh * kw, as `torch.nn.init` computes):
  - 'flax': Flax's defaults (nothing passed).
  - 'torch': `nn.Linear`'s and `nn.Conv2d`'s `reset_parameters`: weights
    `kaiming_uniform_(a=sqrt(5))` = U(+-1/sqrt(fan_in)), biases
    U(+-1/sqrt(fan_in)).
  - 'kaiming_fan_out': torchvision's ResNet and MobileNetV2 convs,
    `kaiming_normal_(mode='fan_out', nonlinearity='relu')` = N(0, 2/fan_out),
    untruncated; biases 0.
  - 'normal_0.01': torchvision MobileNetV2's classifier, N(0, 0.01^2); biases 0.
  - 'torch_zero_bias': `nn.Linear`'s default weight with the bias zeroed
    (the benchmark's wide ResNets).
  """
  if scheme == 'flax':
    return {}
  if scheme == 'torch':
    bound = 1 / math.sqrt(fan_in)
    return dict(kernel_init=uniform(bound), bias_init=uniform(bound))
  if scheme == 'torch_zero_bias':
    return dict(kernel_init=uniform(1 / math.sqrt(fan_in)), bias_init=nn.initializers.zeros)
  if scheme == 'kaiming_fan_out':
    return dict(kernel_init=nn.initializers.variance_scaling(2.0, 'fan_out', 'normal'),
                bias_init=nn.initializers.zeros)
  if scheme == 'normal_0.01':
    return dict(kernel_init=nn.initializers.normal(0.01),
                bias_init=nn.initializers.zeros)
  raise ValueError(f'unknown initialisation scheme {scheme!r}')


def scheme(model_init: str, torch_scheme: str = 'torch') -> str:
  """The layer scheme for a model's `init`: 'flax', or the layer's PyTorch one."""
  return torch_scheme if model_init == 'torch' else 'flax'


def dense(features: int, *, dtype: Any = jnp.float32, init: str = 'flax',
          name=None, **kwargs):
  """`x -> nn.Dense(features)(x)` computing in `dtype` with float32
  parameters, initialised by `init` (a scheme of `initializers`).

  With a 16-bit `dtype` the products accumulate in, and come out as,
  float32: the fast bfloat16 path of XLA:CPU (AMX; bf16 outputs were slower
  than float32 there) and the usual mixed precision of GPUs. The layer is
  built when the returned function is called (its initialisers need the
  input's fan_in), inside the parent's compact `__call__`, as its submodule:
  call it once per layer (a second call would build a second layer).
  """
  if jnp.dtype(dtype) != jnp.float32:
    kwargs['dot_general'] = functools.partial(
        jax.lax.dot_general, preferred_element_type=jnp.float32)

  def apply(x):
    return nn.Dense(features, dtype=dtype, name=name,
                    **initializers(init, x.shape[-1]), **kwargs)(x)
  return apply


def conv(features: int, kernel_size, *, dtype: Any = jnp.float32,
         init: str = 'flax', name=None, **kwargs):
  """`x -> nn.Conv(features, kernel_size)(x)` (as `dense`)."""
  if jnp.dtype(dtype) != jnp.float32:
    kwargs['conv_general_dilated'] = functools.partial(
        jax.lax.conv_general_dilated, preferred_element_type=jnp.float32)

  def apply(x):
    fan_in = x.shape[-1] // kwargs.get('feature_group_count', 1) * math.prod(kernel_size)
    return nn.Conv(features, kernel_size, dtype=dtype, name=name,
                   **initializers(init, fan_in), **kwargs)(x)
  return apply


def pooled_head(x, features: dict, num_classes: int, *, dtype: Any, init: str,
                return_features: bool):
  """The convolutional models' ending: maps [B, H, W, C] averaged over H, W
  into `features['embedding']` [B, C], then the classifier `head` (`dense`
  with `init`); returns what the model returns, logits [B, num_classes] or
  (logits, features). Called from the model's compact `__call__`."""
  x = jnp.mean(x, axis=(1, 2))
  features['embedding'] = x
  logits = dense(num_classes, dtype=dtype, init=init, name='head')(x)
  return (logits, features) if return_features else logits


def batch_norm(train: bool, name: str, axis_name=None) -> nn.BatchNorm:
  """BatchNorm with PyTorch's defaults (momentum 0.1 = Flax's 0.9, eps 1e-5).

  `axis_name` averages the batch statistics across the devices of that axis
  (synchronised BN), so a step on several devices normalises as on one.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      axis_name=axis_name, name=name)


def batch_statistics_norm(module, x, name: str):
  """BatchNorm2d in training mode on maps [B, H, W, C]: the batch's statistics
  (biased variance, eps 1e-5), a learned scale (1) and bias (0) per channel,
  as params `<name>_scale`, `<name>_bias` of `module` (called from its compact
  `__call__`). For method parts that serve only the loss, whose running
  statistics are never read."""
  scale = module.param(f'{name}_scale', nn.initializers.ones, (x.shape[-1],))
  bias = module.param(f'{name}_bias', nn.initializers.zeros, (x.shape[-1],))
  mean = jnp.mean(x, axis=(0, 1, 2))
  var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
  return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + bias


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
