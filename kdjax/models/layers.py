"""Layers shared by the models."""

import flax.linen as nn


def batch_norm(train: bool, name: str, axis_name=None) -> nn.BatchNorm:
  """BatchNorm with PyTorch's defaults (momentum 0.1 = Flax's 0.9, eps 1e-5).

  `axis_name` averages the batch statistics across the devices of that axis
  (synchronised BN), so a step on several devices normalises as on one.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      axis_name=axis_name, name=name)
