"""VGG with BatchNorm as the CIFAR-100 benchmark of RepDistiller and
mdistiller builds it: vgg8, vgg11, vgg13, vgg16, vgg19 (its `vgg*_bn`).

Five blocks of 3x3 convs (with bias) each followed by BN and ReLU, the
last ReLU of a block applied after the block; 2x2 max-pools after blocks
0-2, and after block 3 only on inputs 64 pixels high (none on CIFAR's
32x32); global average pooling and one Dense(512 -> classes). Convs per
block: vgg8 (1, 1, 1, 1, 1), vgg11 (1, 1, 2, 2, 2), vgg13 (2, 2, 2, 2, 2),
vgg16 (2, 2, 3, 3, 3), vgg19 (2, 2, 4, 4, 4); widths 64, 128, 256, 512, 512.
vgg13 = 9,462,180 parameters for 100 classes, vgg8 = 3,965,028.

`param_init='torch'`: the reference's draws: convs N(0, 2/fan_out) with
zero biases, BN 1 / 0, the classifier N(0, 0.01^2) with a zero bias.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from kdjax import errors
from kdjax.models import layers

DEPTHS = {8: (1, 1, 1, 1, 1), 11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2),
          16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)


class VGG(nn.Module):
  """Features: 'block_0'..'block_4' (each block's ReLU output, before its
  pool) and 'embedding' (pooled 512-d)."""
  depth: int = 13
  num_classes: int = 100
  axis_name: str | None = None
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32
  param_init: str = 'flax'  # or 'torch' (module docstring)

  def _convs(self) -> Sequence[int]:
    if self.depth not in DEPTHS:
      raise errors.ConfigError(f'model.depth={self.depth} is not a VGG depth; expected one '
                               f'of {sorted(DEPTHS)}')
    return DEPTHS[self.depth]

  def trunk(self, feature: str) -> set[str]:
    last = 4 if feature == 'embedding' else int(feature.rsplit('_', 1)[1])
    return {f'block{b}_{kind}{i}' for b in range(last + 1)
            for i in range(self._convs()[b]) for kind in ('conv', 'bn')}

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    init = layers.scheme(self.param_init, 'kaiming_fan_out')
    size, features = x.shape[1], {}
    for b, (convs, width) in enumerate(zip(self._convs(), WIDTHS)):
      for i in range(convs):
        x = layers.conv(width, (3, 3), padding=1, dtype=self.dtype, init=init,
                        name=f'block{b}_conv{i}')(x)
        x = nn.relu(layers.batch_norm(train, f'block{b}_bn{i}', self.axis_name)(x))
      features[f'block_{b}'] = x
      if b < 3 or (b == 3 and size == 64):  # the reference pools here only at 64 px
        x = layers.max_pool_2x2(x)
    return layers.pooled_head(x, features, self.num_classes, dtype=self.dtype,
                              init=layers.scheme(self.param_init, 'normal_0.01'),
                              return_features=return_features)
