"""Small CNNs of the comparison study's CIFAR-10 track (seeds/004, sec. 3.2.2)."""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from kdjax.models import layers


class CNN(nn.Module):
  """3x3 conv blocks (ReLU, optional 2x2 max-pool) -> Dense layers -> logits.

  Teacher: convs (64, 128, 256), pool after each, dense (1024,), dropout 0.3
  = 4,576,394 params. Student: convs (32, 64), dense (256,) = 1,070,794.
  FitNet student: convs (32, 48, 64), pool after the first two only, no
  hidden dense = 83,450: its 48-filter map (16x16, before its pool) is the
  guided layer; the teacher's first block after pooling (16x16x64) the hint.

  Features: 'preact_i' (each conv's output before its ReLU: activation
  boundaries), 'conv_i' (its ReLU output, before pooling), 'block_i'
  (after pooling, or = conv_i without), 'dense_i', 'embedding' (the input of
  the classifier, flattened).

  Attributes:
    convs: filters of each 3x3 conv ('SAME' padding, stride 1).
    pool: which convs are followed by a 2x2 max-pool (default: all).
    dense: widths of the hidden dense layers.
    dropout: rate after each hidden dense layer.
    param_init: 'flax' (Flax's defaults) or 'torch' (`nn.Conv2d`'s and
      `nn.Linear`'s defaults, as the study's PyTorch models draw them).
  """
  convs: Sequence[int]
  dense: Sequence[int] = ()
  pool: Sequence[bool] = ()
  num_classes: int = 10
  dropout: float = 0.0
  param_init: str = 'flax'
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32

  def trunk(self, feature: str) -> set[str]:
    """Submodules that compute `feature`."""
    kind, _, index = feature.rpartition('_')
    if kind in ('preact', 'conv', 'block'):
      return {f'conv_{i}' for i in range(int(index) + 1)}
    dense = len(self.dense) if feature == 'embedding' else int(index) + 1
    return {f'conv_{i}' for i in range(len(self.convs))} | {
        f'dense_{i}' for i in range(dense)}

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    """Images [B, H, W, C] -> logits [B, num_classes] (and features)."""
    pool = tuple(self.pool) or (True,) * len(self.convs)
    init = layers.scheme(self.param_init)
    features = {}
    for i, filters in enumerate(self.convs):
      x = layers.conv(filters, (3, 3), padding='SAME', dtype=self.dtype, init=init,
                      name=f'conv_{i}')(x)
      features[f'preact_{i}'] = x
      x = nn.relu(x)
      features[f'conv_{i}'] = x
      if pool[i]:
        x = layers.max_pool_2x2(x)
      features[f'block_{i}'] = x
    x = jnp.reshape(x, (x.shape[0], -1))
    for i, width in enumerate(self.dense):
      x = nn.relu(layers.dense(width, dtype=self.dtype, init=init,
                                   name=f'dense_{i}')(x))
      features[f'dense_{i}'] = x
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    features['embedding'] = features[f'dense_{len(self.dense) - 1}'] if self.dense else x
    logits = layers.dense(self.num_classes, dtype=self.dtype, init=init,
                          name='head')(x)
    return (logits, features) if return_features else logits
