"""kdjax's CIFAR CNN step against the same step written in plain PyTorch.

Issue 25 lists what, besides the initialisation, could make a kdjax run of
the study's recipe end below a PyTorch run: Adam's epsilon and bias
correction, the loss reduction, the max-pool's gradient, dropout's scaling,
float32 rounding. Given the same weights and the same batches, these are
deterministic, so they are checked here exactly rather than by training:
kdjax's real `steps.Step` (normalisation, CE, optimizer from the config)
and PyTorch (`torch_steps.cnn`, `F.cross_entropy`, `torch.optim.Adam`)
take 20 steps from one set of weights on one sequence of batches and must
end at the same weights to float32 rounding. What remains are the random
streams (initialisation, data order, flips, dropout masks), compared by
training runs (experiments/results/torch_parity/).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import methods
from kdjax import models
from kdjax import optim
from kdjax import steps
from kdjax.data import SPECS

torch = pytest.importorskip('torch', reason='torch not installed (pip install torch==2.13.0)')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'experiments', 'bench'))
import torch_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

SIZE, CONVS, DENSE, BATCH = 16, (8, 16), (32,), 32


def to_flax(module, size):
  """The Flax CNN's params from `torch_steps.cnn`'s state: conv OIHW -> HWIO;
  the first dense layer's rows from PyTorch's (C, H, W) flatten order to
  Flax's (H, W, C); dense weights transposed."""
  convs = [m for m in module if isinstance(m, torch.nn.Conv2d)]
  denses = [m for m in module if isinstance(m, torch.nn.Linear)]
  params, side, channels = {}, size // 2**len(convs), convs[-1].out_channels
  for i, conv in enumerate(convs):
    params[f'conv_{i}'] = {'kernel': conv.weight.detach().numpy().transpose(2, 3, 1, 0),
                           'bias': conv.bias.detach().numpy()}
  for i, dense in enumerate(denses):
    w = dense.weight.detach().numpy()
    if i == 0:
      w = w.reshape(len(w), channels, side, side).transpose(0, 2, 3, 1).reshape(len(w), -1)
    name = f'dense_{i}' if i < len(denses) - 1 else 'head'
    params[name] = {'kernel': w.T, 'bias': dense.bias.detach().numpy()}
  return jax.tree.map(jnp.asarray, params)


def test_kdjax_step_equals_pytorch_step_from_the_same_weights():
  cifar = SPECS['cifar10']
  torch.manual_seed(0)
  reference = torch_steps.cnn(CONVS, DENSE, size=SIZE)
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (20, BATCH, SIZE, SIZE, 3), dtype=np.uint8)
  labels = rng.integers(0, 10, (20, BATCH)).astype(np.int32)

  config = config_lib.cifar10_cnn()
  model = models.create(config_lib.cnn(CONVS, dense=DENSE), 10)
  tx = optim.create(config.optimizer, total_steps=20)
  state = steps.create_state({'params': to_flax(reference, SIZE)}, tx, steps.stage_rng(0))
  step = jax.jit(steps.Step(model=model, tx=tx, objective=methods.get('none').objective([config_lib.get_base_config()]),
                            augmentation=steps.Augmentation(0, False, cifar.mean, cifar.std)))
  torch_step = torch_steps.Step(
      reference, None, torch.from_numpy(images.reshape(-1, SIZE, SIZE, 3)),
      torch.from_numpy(labels.reshape(-1).astype(np.int64)), mean=cifar.mean,
      std=cifar.std, lr=config.optimizer.learning_rate,
      weight_decay=config.optimizer.weight_decay)
  initial = jax.tree.leaves(to_flax(reference, SIZE))
  for i in range(20):
    state, metrics = step(state, (images[i], labels[i]), jax.random.PRNGKey(i), None, {})
    loss = torch_step(torch.arange(i * BATCH, (i + 1) * BATCH))
    np.testing.assert_allclose(float(metrics["loss"]) / BATCH, float(loss.detach()), rtol=2e-5)
  ours, theirs = jax.tree.leaves(state.params), jax.tree.leaves(to_flax(reference, SIZE))
  assert min(float(np.abs(a - b).max()) for a, b in zip(ours, initial)) > 1e-3
  for a, b in zip(ours, theirs):  # measured: 2.0e-7 at most
    np.testing.assert_allclose(np.asarray(a), b, atol=2e-6, rtol=0)


def test_dropout_scales_as_pytorch():
  """Inverted dropout in both: kept units scaled by 1/(1-p), in train mode only."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  x = np.ones((1, 4096), np.float32)
  ours = np.asarray(nn.Dropout(0.3, deterministic=False).apply(
      {}, x, rngs={'dropout': jax.random.PRNGKey(0)}))
  theirs = torch.nn.functional.dropout(torch.from_numpy(x), 0.3, training=True).numpy()
  for values in (ours, theirs):
    np.testing.assert_allclose(np.unique(values), [0, 1 / 0.7], rtol=1e-6)
    assert abs((values == 0).mean() - 0.3) < 0.03
