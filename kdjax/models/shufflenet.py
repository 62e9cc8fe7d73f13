"""ShuffleNets as the CIFAR-100 benchmark of RepDistiller and mdistiller
builds them (its ShuffleV1 and ShuffleV2; Zhang et al. 2018, Ma et al. 2018).

Both: a 1x1 stem (3 -> 24, BN, ReLU; no max-pool), three stages at 32, 16,
8 -> 16, 8, 4 pixels, global average pooling (4x4) and a Dense; bias-free
convs; channel shuffle = view (g, C/g) -> transpose -> flatten.

- ShuffleV1 (groups 3): widths 240, 480, 960, blocks 4, 8, 4. A block:
  grouped 1x1 (groups 1 where the input is the stem's 24 channels) -> BN ->
  ReLU -> shuffle -> depthwise 3x3 (stride) -> BN -> ReLU -> grouped 1x1
  (groups 3) -> BN; stride 1: ReLU(y + x); stride 2: ReLU([y, avgpool3x3(x)])
  with y of width - input channels. 949,258 parameters for 100 classes.
- ShuffleV2 (net size 1): widths 116, 232, 464, blocks 1 + (3, 7, 3), a last
  1x1 conv to 1024. A down block: [depthwise 3x3/2 -> BN -> 1x1 -> BN ->
  ReLU] beside [1x1 -> BN -> ReLU -> depthwise 3x3/2 -> BN -> 1x1 -> BN ->
  ReLU], concatenated, shuffled (2); a basic block keeps the first half of
  the channels and runs the second through 1x1 -> BN -> ReLU -> depthwise
  3x3 -> BN -> 1x1 -> BN -> ReLU, then concatenates and shuffles.
  1,355,528 parameters for 100 classes.

`param_init='torch'`: PyTorch's defaults (the reference sets no init).
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from kdjax import errors
from kdjax.models import layers


def channel_shuffle(x, groups):
  """[B, H, W, C] with channel j*g + i <- i*(C/g) + j (PyTorch's view,
  transpose(1, 2), flatten on NCHW)."""
  b, h, w, c = x.shape
  return x.reshape(b, h, w, groups, c // groups).swapaxes(3, 4).reshape(b, h, w, c)


class _Block(nn.Module):
  """Shared plumbing: bias-free convs and BNs named as the reference's."""
  axis_name: str | None = None
  dtype: Any = jnp.float32
  param_init: str = 'flax'

  def conv(self, x, width, kernel, name, strides=1, groups=1):
    padding = kernel // 2
    return layers.conv(width, (kernel, kernel), strides=strides, padding=padding,
                       feature_group_count=groups, use_bias=False, dtype=self.dtype,
                       init=layers.scheme(self.param_init), name=name)(x)

  def bn(self, x, train, name):
    return layers.batch_norm(train, name, self.axis_name)(x)


class ShuffleV1Block(_Block):
  width: int = 240  # the block's output channels
  strides: int = 1
  groups: int = 3

  @nn.compact
  def __call__(self, x, train):
    cin = x.shape[-1]
    out = self.width - cin if self.strides == 2 else self.width
    mid, first = out // 4, 1 if cin == 24 else self.groups
    y = nn.relu(self.bn(self.conv(x, mid, 1, 'conv1', groups=first), train, 'bn1'))
    y = channel_shuffle(y, first)
    y = nn.relu(self.bn(self.conv(y, mid, 3, 'conv2', self.strides, groups=mid), train,
                        'bn2'))
    y = self.bn(self.conv(y, out, 1, 'conv3', groups=self.groups), train, 'bn3')
    if self.strides == 2:  # 3x3/2 average pool, zero padding counted (divide by 9)
      pooled = nn.avg_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                           count_include_pad=True)
      return nn.relu(jnp.concatenate([y, pooled], axis=-1))
    return nn.relu(y + x)


class ShuffleV2Down(_Block):
  width: int = 116

  @nn.compact
  def __call__(self, x, train):
    cin, mid = x.shape[-1], self.width // 2
    left = self.bn(self.conv(x, cin, 3, 'conv1', 2, groups=cin), train, 'bn1')
    left = nn.relu(self.bn(self.conv(left, mid, 1, 'conv2'), train, 'bn2'))
    right = nn.relu(self.bn(self.conv(x, mid, 1, 'conv3'), train, 'bn3'))
    right = self.bn(self.conv(right, mid, 3, 'conv4', 2, groups=mid), train, 'bn4')
    right = nn.relu(self.bn(self.conv(right, mid, 1, 'conv5'), train, 'bn5'))
    return channel_shuffle(jnp.concatenate([left, right], axis=-1), 2)


class ShuffleV2Basic(_Block):

  @nn.compact
  def __call__(self, x, train):
    c = x.shape[-1] // 2
    kept, y = x[..., :c], x[..., c:]
    y = nn.relu(self.bn(self.conv(y, c, 1, 'conv1'), train, 'bn1'))
    y = self.bn(self.conv(y, c, 3, 'conv2', groups=c), train, 'bn2')
    y = nn.relu(self.bn(self.conv(y, c, 1, 'conv3'), train, 'bn3'))
    return channel_shuffle(jnp.concatenate([kept, y], axis=-1), 2)


class ShuffleNet(nn.Module):
  """Features: 'stem', 'stage_1'..'stage_3', 'last' (V2: after its 1x1 to
  1024; V1: = stage_3) and 'embedding' (pooled)."""
  version: int = 2  # 1: ShuffleV1, 2: ShuffleV2
  num_classes: int = 100
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  def _stages(self):
    if self.version == 1:
      return (240, 480, 960), (4, 8, 4)
    if self.version == 2:
      return (116, 232, 464), (4, 8, 4)  # a down block + 3, 7, 3 basic blocks
    raise errors.ConfigError(f'model.version={self.version} is not a ShuffleNet; expected 1 or 2')

  def trunk(self, feature: str) -> set[str]:
    _, blocks = self._stages()
    last = {'stem': 0, 'last': 3, 'embedding': 3}.get(feature)
    if last is None:
      last = int(feature.rsplit('_', 1)[1])
    names = {'stem_conv', 'stem_bn'} | {f'stage{s}_block{b}' for s in range(1, last + 1)
                                        for b in range(blocks[s - 1])}
    if self.version == 2 and feature in ('last', 'embedding'):
      names |= {'last_conv', 'last_bn'}
    return names

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    widths, blocks = self._stages()
    common = dict(axis_name=self.axis_name, dtype=self.dtype, param_init=self.param_init)
    init = layers.scheme(self.param_init)
    x = layers.conv(24, (1, 1), use_bias=False, dtype=self.dtype, init=init,
                    name='stem_conv')(x)
    x = nn.relu(layers.batch_norm(train, 'stem_bn', self.axis_name)(x))
    features = {'stem': x}
    for s, (width, n) in enumerate(zip(widths, blocks), start=1):
      for b in range(n):
        name = f'stage{s}_block{b}'
        if self.version == 1:
          x = ShuffleV1Block(width=width, strides=2 if b == 0 else 1, name=name,
                             **common)(x, train)
        elif b == 0:
          x = ShuffleV2Down(width=width, name=name, **common)(x, train)
        else:
          x = ShuffleV2Basic(name=name, **common)(x, train)
      features[f'stage_{s}'] = x
    if self.version == 2:
      x = layers.conv(1024, (1, 1), use_bias=False, dtype=self.dtype, init=init,
                      name='last_conv')(x)
      x = nn.relu(layers.batch_norm(train, 'last_bn', self.axis_name)(x))
    features['last'] = x
    return layers.pooled_head(x, features, self.num_classes, dtype=self.dtype, init=init,
                              return_features=return_features)
