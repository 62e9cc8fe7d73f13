"""MobileNetV2 (Sandler et al. 2018), torchvision's layout, stem stride 1 for CIFAR.

Width 1.0, inverted residuals (t, c, n, s) = (1,16,1,1), (6,24,2,2),
(6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1), last 1x1 conv
to 1280, ReLU6, dropout 0.2 before the classifier: 2,236,682 params for 10
classes, as torchvision's `mobilenet_v2(num_classes=10)`.

`param_init='torch'` draws the weights as torchvision's constructor does:
`kaiming_normal_(mode='fan_out')` for every conv, N(0, 0.01) and a zero bias
for the classifier, BatchNorm 1 / 0 (the CIFAR variant changes only the
stem's stride). `param_init='flax'`: Flax's defaults.

`CifarMobileNetV2` is the CIFAR-100 benchmark's MobileNetV2 (RepDistiller,
mdistiller: `mobile_half` = `mobilenetv2_T_w(T=6, W=0.5)`), another network:
a 3x3 stride-2 stem of int(32 W) = 16 filters, the same (t, c, n, s) table
with widths int(c W) but stride 1 at the second stage, ReLU (not ReLU6),
the expanding 1x1 conv in every block (t = 1 too), the last 1x1 conv to
1280, no dropout: 812,836 parameters for 100 classes. Its torch init:
convs N(0, 2/fan_out), the classifier N(0, 0.01^2) with a zero bias.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from kdjax.models import layers

SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
            (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class InvertedResidual(nn.Module):
  filters: int
  strides: int
  expand: int
  axis_name: str | None = None
  dtype: Any = jnp.float32
  param_init: str = 'flax'
  relu6: bool = True  # the benchmark's CIFAR variant: ReLU
  expand_always: bool = False  # the benchmark's: an expanding 1x1 also at t = 1

  @nn.compact
  def __call__(self, x, train):
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    act = nn.relu6 if self.relu6 else nn.relu
    channels = x.shape[-1]
    hidden = channels * self.expand
    y = x
    if self.expand != 1 or self.expand_always:
      y = layers.conv(hidden, (1, 1), use_bias=False, dtype=self.dtype,
                      init=init, name='expand_conv')(y)
      y = act(layers.batch_norm(train, 'expand_bn', self.axis_name)(y))
    y = layers.conv(hidden, (3, 3), strides=self.strides, padding=1,
                    feature_group_count=hidden, use_bias=False, dtype=self.dtype,
                    init=init, name='depthwise_conv')(y)
    y = act(layers.batch_norm(train, 'depthwise_bn', self.axis_name)(y))
    y = layers.conv(self.filters, (1, 1), use_bias=False, dtype=self.dtype,
                    init=init, name='project_conv')(y)
    y = layers.batch_norm(train, 'project_bn', self.axis_name)(y)
    if self.strides == 1 and channels == self.filters:
      y = x + y
    return y


class MobileNetV2(nn.Module):
  """Features: 'stem', 'stage_1'..'stage_7' (each setting's output), 'last'
  (the 1280-channel map) and 'embedding' (pooled 1280-d)."""
  num_classes: int = 10
  dropout: float = 0.2
  stem_strides: int = 1  # torchvision: 2; CIFAR variant: 1.
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  def trunk(self, feature: str) -> set[str]:
    if feature == 'stem':
      return {'stem_conv', 'stem_bn'}
    last = len(SETTINGS) if feature in ('last', 'embedding') else int(
        feature.rsplit('_', 1)[1])
    names = {'stem_conv', 'stem_bn'} | {
        f'stage{s}_block{b}' for s in range(1, last + 1)
        for b in range(SETTINGS[s - 1][2])}
    if feature in ('last', 'embedding'):
      names |= {'last_conv', 'last_bn'}
    return names

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    conv_init = layers.scheme(self.param_init, 'kaiming_fan_out')
    x = layers.conv(32, (3, 3), strides=self.stem_strides, padding=1,
                    use_bias=False, dtype=self.dtype, init=conv_init,
                    name='stem_conv')(x)
    x = nn.relu6(layers.batch_norm(train, 'stem_bn', self.axis_name)(x))
    features = {'stem': x}
    for s, (expand, filters, blocks, strides) in enumerate(SETTINGS, start=1):
      for b in range(blocks):
        x = InvertedResidual(filters, strides if b == 0 else 1, expand,
                             self.axis_name, self.dtype, self.param_init,
                             name=f'stage{s}_block{b}')(x, train)
      features[f'stage_{s}'] = x
    x = layers.conv(1280, (1, 1), use_bias=False, dtype=self.dtype,
                    init=conv_init, name='last_conv')(x)
    x = nn.relu6(layers.batch_norm(train, 'last_bn', self.axis_name)(x))
    features['last'] = x
    x = jnp.mean(x, axis=(1, 2))
    features['embedding'] = x
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    logits = layers.dense(self.num_classes, dtype=self.dtype,
                          init=layers.scheme(self.param_init, 'normal_0.01'),
                          name='head')(x)
    return (logits, features) if return_features else logits


class CifarMobileNetV2(nn.Module):
  """The benchmark's MobileNetV2 (module docstring). Features: 'stem',
  'stage_1'..'stage_7', 'last' (the 1280-channel map), 'embedding'."""
  width: float = 0.5
  expand: int = 6
  num_classes: int = 100
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  trunk = MobileNetV2.trunk

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    conv_init = layers.scheme(self.param_init, 'kaiming_fan_out')
    x = layers.conv(int(32 * self.width), (3, 3), strides=2, padding=1, use_bias=False,
                    dtype=self.dtype, init=conv_init, name='stem_conv')(x)
    x = nn.relu(layers.batch_norm(train, 'stem_bn', self.axis_name)(x))
    features = {'stem': x}
    for s, (expand, filters, blocks, strides) in enumerate(SETTINGS, start=1):
      strides = 1 if s == 2 else strides  # CIFAR: the second stage keeps 16x16
      for b in range(blocks):
        x = InvertedResidual(int(filters * self.width), strides if b == 0 else 1,
                             self.expand if expand != 1 else 1, self.axis_name,
                             self.dtype, self.param_init, relu6=False, expand_always=True,
                             name=f'stage{s}_block{b}')(x, train)
      features[f'stage_{s}'] = x
    last = int(1280 * self.width) if self.width > 1.0 else 1280
    x = layers.conv(last, (1, 1), use_bias=False, dtype=self.dtype, init=conv_init,
                    name='last_conv')(x)
    x = nn.relu(layers.batch_norm(train, 'last_bn', self.axis_name)(x))
    features['last'] = x
    return layers.pooled_head(x, features, self.num_classes, dtype=self.dtype,
                              init=layers.scheme(self.param_init, 'normal_0.01'),
                              return_features=return_features)
