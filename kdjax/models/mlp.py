"""Fully connected networks of the MNIST track (comparison study, sec. 3.2.1)."""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from kdjax.models import layers


class MLP(nn.Module):
  """Flatten -> hidden Dense layers -> logits.

  With `bn_residual`, each hidden layer computes `act(BN(Wx + b)) + x` (study
  eq. 7); the `+ x` is added only where the layer's input and output widths
  agree, i.e. on every hidden layer but the first (784 -> width).

  Attributes:
    hidden: widths of the hidden layers, e.g. (1200, 1200).
    num_classes: size of the logits.
    dropout: rate applied after each hidden activation (training only).
    activation: name of a `flax.linen` activation ('relu', 'gelu', ...).
    bn_residual: the study's BatchNorm + residual variant (sec. 6).
    param_init: 'flax' (Flax's defaults) or 'torch' (`nn.Linear`'s defaults, as
      the study's PyTorch models draw them).
  """
  hidden: Sequence[int]
  num_classes: int = 10
  dropout: float = 0.0
  activation: str = 'relu'
  bn_residual: bool = False
  param_init: str = 'flax'
  axis_name: str | None = None  # set by the trainer on several devices (sync BN)
  dtype: Any = jnp.float32  # compute dtype (train.compute_dtype); params float32

  def trunk(self, feature: str) -> set[str]:
    """Names of the submodules that compute `feature` (e.g. 'hidden_1')."""
    last = len(self.hidden) - 1 if feature == 'embedding' else int(
        feature.rsplit('_', 1)[1])
    return {f'{kind}_{i}' for i in range(last + 1) for kind in ('dense', 'bn')}

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    """Maps images [B, ...] to logits [B, num_classes].

    With `return_features`, also returns {'hidden_i': [B, width_i],
    'embedding': [B, width_last]} (activations before dropout); the parameter
    tree is the same either way.
    """
    act = getattr(nn, self.activation)
    init = layers.scheme(self.param_init)
    x = jnp.reshape(x, (x.shape[0], -1))
    features = {}
    for i, width in enumerate(self.hidden):
      h = layers.dense(width, dtype=self.dtype, init=init, name=f'dense_{i}')(x)
      if self.bn_residual:
        h = layers.batch_norm(train, f'bn_{i}', self.axis_name)(h)
      h = act(h)
      if self.bn_residual and x.shape[-1] == width:
        h = h + x
      features[f'hidden_{i}'] = h
      x = nn.Dropout(self.dropout, deterministic=not train)(h)
    features['embedding'] = features[f'hidden_{len(self.hidden) - 1}']
    logits = layers.dense(self.num_classes, dtype=self.dtype, init=init,
                          name='head')(x)
    return (logits, features) if return_features else logits
