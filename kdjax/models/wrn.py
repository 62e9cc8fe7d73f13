"""Wide ResNets (Zagoruyko & Komodakis 2016) as the CIFAR-100 benchmark of
RepDistiller and mdistiller builds them: wrn_{depth}_{widen}.

Pre-activation blocks: BN -> ReLU -> 3x3 conv (stride) -> BN -> ReLU ->
3x3 conv, plus the input, or a bias-free 1x1 conv (stride) of the
*pre-activated* input where the width changes. A 3x3 stem of 16 filters,
three stages of n = (depth - 4) / 6 blocks and widths (16, 32, 64) * widen,
a last BN -> ReLU, global average pooling (8x8 on CIFAR) and a Dense. No
dropout (the benchmark's drop rate 0). wrn_40_2 = 2,255,156 parameters for
100 classes, wrn_16_2 = 703,284.

`param_init='torch'`: the reference's draws: every conv N(0, 2/fan_out)
(its `normal_(0, sqrt(2 / (k*k*out_channels)))`), BN 1 / 0, the classifier
`nn.Linear`'s default weight with a zero bias.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from kdjax import errors
from kdjax.models import layers


class WideBlock(nn.Module):
  filters: int
  strides: int = 1
  axis_name: str | None = None
  dtype: Any = jnp.float32
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, x, train):
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    pre = nn.relu(layers.batch_norm(train, 'bn1', self.axis_name)(x))
    y = layers.conv(self.filters, (3, 3), strides=self.strides, padding=1, use_bias=False,
                    dtype=self.dtype, init=init, name='conv1')(pre)
    y = nn.relu(layers.batch_norm(train, 'bn2', self.axis_name)(y))
    y = layers.conv(self.filters, (3, 3), padding=1, use_bias=False, dtype=self.dtype,
                    init=init, name='conv2')(y)
    if x.shape[-1] == self.filters:
      return x + y
    return layers.conv(self.filters, (1, 1), strides=self.strides, padding=0,
                       use_bias=False, dtype=self.dtype, init=init,
                       name='shortcut_conv')(pre) + y


class WideResNet(nn.Module):
  """Features: 'stem', 'stage_1'..'stage_3' (each stage's output, before the
  last BN-ReLU), 'last' (after it) and 'embedding' (pooled)."""
  depth: int = 40
  widen: int = 2
  num_classes: int = 100
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  def _blocks(self):
    if (self.depth - 4) % 6 or self.depth < 10:
      raise errors.ConfigError(f'model.depth={self.depth} is not a wide ResNet depth; expected '
                               '6n + 4 (10, 16, 22, 28, 40, ...)')
    return (self.depth - 4) // 6

  def trunk(self, feature: str) -> set[str]:
    n = self._blocks()
    last = {'stem': 0, 'last': 3, 'embedding': 3}.get(feature)
    if last is None:
      last = int(feature.rsplit('_', 1)[1])
    names = {'stem_conv'} | {f'stage{s}_block{b}' for s in range(1, last + 1)
                             for b in range(n)}
    return names | ({'last_bn'} if feature in ('last', 'embedding') else set())

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    n = self._blocks()
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    x = layers.conv(16, (3, 3), padding=1, use_bias=False, dtype=self.dtype, init=init,
                    name='stem_conv')(x)
    features = {'stem': x}
    for s in range(1, 4):
      for b in range(n):
        x = WideBlock(16 * 2**(s - 1) * self.widen, 2 if s > 1 and b == 0 else 1,
                      self.axis_name, self.dtype, self.param_init,
                      name=f'stage{s}_block{b}')(x, train)
      features[f'stage_{s}'] = x
    x = nn.relu(layers.batch_norm(train, 'last_bn', self.axis_name)(x))
    features['last'] = x
    return layers.pooled_head(x, features, self.num_classes, dtype=self.dtype,
                              init=layers.scheme(self.param_init, 'torch_zero_bias'),
                              return_features=return_features)
