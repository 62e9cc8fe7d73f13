"""ResNet-18/34 for 32x32 inputs (He et al. 2016, CIFAR variant).

3x3 stride-1 stem without max-pool, BasicBlocks, BatchNorm, global average
pool, one Dense. ResNet-34 = 21,282,122 params for 10 classes, ResNet-18 =
11,173,962: the torchvision models with the stem changed, as the KD report
(seeds/000) describes.

`param_init='torch'` draws the weights as that PyTorch model does: torchvision's
`kaiming_normal_(mode='fan_out')` for the block convs, `nn.Linear`'s default
for the classifier, and `nn.Conv2d`'s default for the 3x3 stem (a conv put
in place of torchvision's `conv1` keeps PyTorch's default); BatchNorm 1 / 0
either way. `param_init='flax'`: Flax's defaults.

`CifarResNet` is the CIFAR-100 benchmark's ResNet family of RepDistiller and
mdistiller (resnet8 ... resnet110: He et al.'s 6n+2 CIFAR ResNets with
widths (16, 16, 32, 64); resnet8x4 and resnet32x4 with (32, 64, 128, 256)):
the same blocks (a 1x1 conv + BN shortcut wherever the stride or width
changes, as in layer1 of the x4 models), three stages, and all convs, the
stem's too, drawn N(0, 2/fan_out) under `param_init='torch'`. Its ResNet50
(resnetv2.py) is the same model with `block='bottleneck'`, four stages and
widths (64, 64, 128, 256, 512): 23,705,252 parameters for 100 classes.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from kdjax import errors
from kdjax.models import layers


class BasicBlock(nn.Module):
  filters: int
  strides: int = 1
  axis_name: str | None = None
  dtype: Any = jnp.float32
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, x, train):
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    y = layers.conv(self.filters, (3, 3), strides=self.strides, padding=1,
                    use_bias=False, dtype=self.dtype, init=init, name='conv1')(x)
    y = nn.relu(layers.batch_norm(train, 'bn1', self.axis_name)(y))
    y = layers.conv(self.filters, (3, 3), padding=1, use_bias=False,
                    dtype=self.dtype, init=init, name='conv2')(y)
    y = layers.batch_norm(train, 'bn2', self.axis_name)(y)
    if self.strides != 1 or x.shape[-1] != self.filters:
      x = layers.conv(self.filters, (1, 1), strides=self.strides, use_bias=False,
                      dtype=self.dtype, init=init, name='shortcut_conv')(x)
      x = layers.batch_norm(train, 'shortcut_bn', self.axis_name)(x)
    return nn.relu(x + y), x + y  # (output, pre-activation)


class Bottleneck(nn.Module):
  """1x1 -> 3x3 (stride) -> 1x1 to 4x `filters`, BN after each, ReLU after
  the add; a 1x1 conv + BN shortcut where the stride or width changes
  (kuangliu/pytorch-cifar's and the benchmark's ResNet50)."""
  filters: int
  strides: int = 1
  axis_name: str | None = None
  dtype: Any = jnp.float32
  param_init: str = 'flax'

  @nn.compact
  def __call__(self, x, train):
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    conv = lambda width, kernel, name, **kw: layers.conv(
        width, kernel, use_bias=False, dtype=self.dtype, init=init, name=name, **kw)
    bn = lambda name: layers.batch_norm(train, name, self.axis_name)
    y = nn.relu(bn('bn1')(conv(self.filters, (1, 1), 'conv1')(x)))
    y = nn.relu(bn('bn2')(conv(self.filters, (3, 3), 'conv2', strides=self.strides,
                               padding=1)(y)))
    y = bn('bn3')(conv(4 * self.filters, (1, 1), 'conv3')(y))
    if self.strides != 1 or x.shape[-1] != 4 * self.filters:
      x = bn('shortcut_bn')(conv(4 * self.filters, (1, 1), 'shortcut_conv',
                                 strides=self.strides)(x))
    return nn.relu(x + y), x + y  # (output, pre-activation)


class ResNet(nn.Module):
  """Features: 'stem', 'stage_1'..'stage_4' (each stage's output map),
  'preact_1'..'preact_4' (the same before its last ReLU) and 'embedding'
  (the pooled vector: 512-d for ResNet-18/34).

  Widths: the stem `width` and stage s `width * 2**(s-1)`, or `widths`
  (stem, stage 1, stage 2, ...) where given.
  """
  stage_sizes: Sequence[int] = (3, 4, 6, 3)
  num_classes: int = 10
  width: int = 64
  widths: Sequence[int] = ()
  block: str = 'basic'  # or 'bottleneck' (ResNet-50: stage_sizes (3, 4, 6, 3))
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  def bn_before_relu(self, feature: str) -> tuple:
    """The path of the BatchNorm whose output the residual add before
    `feature`'s ReLU receives (OFD's margins: mdistiller's
    `get_bn_before_relu`, the last block's bn2, or bn3 for bottlenecks)."""
    s = int(feature.rsplit('_', 1)[1])
    return (f'stage{s}_block{self.stage_sizes[s - 1] - 1}',
            'bn3' if self.block == 'bottleneck' else 'bn2')

  def trunk(self, feature: str) -> set[str]:
    special = {'stem': 0, 'embedding': len(self.stage_sizes)}
    last = special[feature] if feature in special else int(feature.rsplit('_', 1)[1])
    return {'stem_conv', 'stem_bn'} | {
        f'stage{s}_block{b}' for s in range(1, last + 1)
        for b in range(self.stage_sizes[s - 1])}

  stem_scheme = 'torch'  # the stem's PyTorch init: nn.Conv2d's default

  def _widths(self):
    if self.block not in ('basic', 'bottleneck'):
      raise errors.ConfigError(f"model.block={self.block!r} is unknown; expected 'basic' or "
                               "'bottleneck'")
    if self.widths and len(self.widths) != len(self.stage_sizes) + 1:
      raise errors.ConfigError(
          f'model.widths={tuple(self.widths)} has {len(self.widths)} entries; expected the '
          f'stem and one per stage: {len(self.stage_sizes) + 1}')
    return tuple(self.widths) or (self.width, *(
        self.width * 2**s for s in range(len(self.stage_sizes))))

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    torch_default = layers.scheme(self.param_init)
    widths = self._widths()
    x = layers.conv(widths[0], (3, 3), padding=1, use_bias=False, dtype=self.dtype,
                    init=layers.scheme(self.param_init, self.stem_scheme),
                    name='stem_conv')(x)
    x = nn.relu(layers.batch_norm(train, 'stem_bn', self.axis_name)(x))
    features = {'stem': x}
    for s, blocks in enumerate(self.stage_sizes, start=1):
      for b in range(blocks):
        strides = 2 if s > 1 and b == 0 else 1
        block = {'basic': BasicBlock, 'bottleneck': Bottleneck}[self.block]
        x, preact = block(widths[s], strides, self.axis_name, self.dtype,
                          self.param_init, name=f'stage{s}_block{b}')(x, train)
      features[f'stage_{s}'] = x
      features[f'preact_{s}'] = preact
    return layers.pooled_head(x, features, self.num_classes, dtype=self.dtype,
                              init=torch_default, return_features=return_features)


class CifarResNet(ResNet):
  """The benchmark's CIFAR ResNets (module docstring): resnet{6n+2} =
  stage_sizes (n, n, n); features 'stem', 'stage_1'..'stage_3', 'preact_1'..'preact_3',
  'embedding'."""
  stage_sizes: Sequence[int] = (3, 3, 3)
  widths: Sequence[int] = (16, 16, 32, 64)
  stem_scheme = 'kaiming_fan_out'
