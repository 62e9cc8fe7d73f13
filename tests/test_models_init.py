"""`param_init='torch'`: every layer's weights drawn as PyTorch draws them.

The expected distribution of each layer is written here from PyTorch's
formulas (torch/nn/modules/linear.py and conv.py `reset_parameters`:
kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias U(+-1/sqrt(fan_in));
torchvision's ResNet/MobileNetV2 constructors: kaiming_normal_(mode='fan_out',
nonlinearity='relu') = N(0, 2/fan_out), MobileNetV2's classifier N(0, 0.01^2),
zero biases) and checked with a Kolmogorov-Smirnov test on the drawn values,
plus the bounds; with torch installed, against samples torch itself draws.
"""

import math

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import pytest
from scipy import stats

from kdjax import config as config_lib
from kdjax import errors
from kdjax import models
from kdjax.models import layers

CIFAR, MNIST = (32, 32, 3), (28, 28, 1)
SMALL = (8, 8, 3)  # the parameters of the pooled models do not depend on it


def _layers(model_config, shape, seed=0):
  """{path: (kernel, bias or None)} of every conv and dense layer."""
  model = models.create(ml_collections.ConfigDict(model_config), 10)
  params = models.init(model, jax.random.PRNGKey(seed), shape)['params']
  found = {}

  def visit(node, path):
    if 'kernel' in node:
      found[path] = (np.asarray(node['kernel']),
                     np.asarray(node['bias']) if 'bias' in node else None)
    for key, value in node.items():
      if isinstance(value, dict):
        visit(value, f'{path}/{key}')
  visit(jax.tree.map(lambda x: x, dict(params)), '')
  return found


def _fans(kernel):
  """(fan_in, fan_out) as torch.nn.init computes them for the same layer: a
  Flax kernel is [kh, kw, in/groups, out] or [in, out]."""
  receptive = math.prod(kernel.shape[:-2])
  return kernel.shape[-2] * receptive, kernel.shape[-1] * receptive


def _uniform_ok(values, bound):
  values = values.ravel()
  assert np.abs(values).max() <= bound
  assert stats.kstest(values, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


def _normal_ok(values, std):
  assert stats.kstest(values.ravel(), stats.norm(0, std).cdf).pvalue > 1e-3


def _torch_default_ok(kernel, bias):
  bound = 1 / math.sqrt(_fans(kernel)[0])
  _uniform_ok(kernel, bound)
  if bias is not None:
    _uniform_ok(bias, bound)


@pytest.mark.parametrize('model_config,shape', [
    (config_lib.mlp((1200, 1200), dropout=0.2), MNIST),
    (config_lib.mlp((300, 300, 300, 300), bn_residual=True), MNIST),
    (config_lib.cnn((64, 128, 256), dense=(1024,), dropout=0.3), CIFAR),
    (config_lib.cnn((32, 48, 64), pool=(True, True, False)), CIFAR),
])
def test_plain_models_draw_pytorch_default_init(model_config, shape):
  layers = _layers(model_config, shape)
  assert len(layers) == len(model_config.get('hidden', ())) + len(
      model_config.get('convs', ())) + len(model_config.get('dense', ())) + 1
  for kernel, bias in layers.values():
    _torch_default_ok(kernel, bias)


def test_resnet_draws_torchvision_init():
  # one block a stage, narrow: every kind of layer of ResNet-18/34, fast to build
  layers = _layers(dict(name='resnet', stage_sizes=(1, 1, 1, 1), width=16,
                        param_init='torch'), SMALL)
  for path, (kernel, bias) in layers.items():
    assert bias is None or path == '/head'
    if path in ('/stem_conv', '/head'):  # a replaced conv1 and nn.Linear: defaults
      _torch_default_ok(kernel, bias)
    else:
      _normal_ok(kernel, math.sqrt(2 / _fans(kernel)[1]))


def test_mobilenet_draws_torchvision_init():
  layers = _layers(dict(name='mobilenet_v2', param_init='torch'), SMALL)
  depthwise = [k for p, (k, _) in layers.items() if 'depthwise' in p]
  assert depthwise and all(k.shape[2] == 1 for k in depthwise)
  for path, (kernel, bias) in layers.items():
    if path == '/head':
      _normal_ok(kernel, 0.01)
      np.testing.assert_array_equal(bias, 0)
    else:  # fan_out of a depthwise conv: channels * 9, as torch computes
      _normal_ok(kernel, math.sqrt(2 / _fans(kernel)[1]))


def test_flax_init_is_kept_and_differs():
  base = config_lib.cnn((32, 64), dense=(256,))
  torch_init = _layers(base, CIFAR)
  flax_init = _layers(dict(base, param_init='flax'), CIFAR)
  for path, (kernel, bias) in flax_init.items():
    np.testing.assert_array_equal(bias, 0)  # Flax's zero biases
    # LeCun normal: variance 1/fan_in, three times PyTorch's default's
    assert np.var(kernel) == pytest.approx(1 / _fans(kernel)[0], rel=0.1)
    assert np.var(torch_init[path][0]) == pytest.approx(1 / 3 / _fans(kernel)[0], rel=0.1)


def test_regressor_follows_the_students_init():
  from kdjax.methods import fitnet
  student = models.create(config_lib.cnn((32, 48, 64), pool=(True, True, False)), 10)
  regressor = fitnet.Regressor('conv_1', 64, 'torch')
  params = models.parts.init_head(regressor, jax.random.PRNGKey(0),
                                  models.feature_shapes(student, CIFAR))
  _torch_default_ok(np.asarray(params['regressor']['kernel']),
                    np.asarray(params['regressor']['bias']))


def test_unknown_param_init_is_refused():
  with pytest.raises(errors.ConfigError, match=r"model.param_init='pytorch' is unknown"):
    models.create(ml_collections.ConfigDict(dict(name='mlp', hidden=(8,),
                                                 param_init='pytorch')), 10)


def test_runs_saved_before_the_key_read_as_flax():
  saved = {'model': {'name': 'mlp', 'hidden': [8]},
           'teacher': {'model': {'name': 'mlp', 'hidden': [16]}}}
  config = config_lib.from_json(saved)
  assert config.model.param_init == 'flax' and config.teacher.model.param_init == 'flax'
  assert 'param_init' not in saved['model']  # the caller's dict is not changed


@pytest.mark.parametrize('scheme,shape,groups', [
    ('torch', (256, 512), 1), ('torch', (64, 32, 3, 3), 1),
    ('kaiming_fan_out', (64, 32, 3, 3), 1), ('kaiming_fan_out', (96, 1, 3, 3), 96)])
def test_same_law_as_torchs_own_draw(scheme, shape, groups):
  """One layer drawn by kdjax and the same layer (torch's shape [out, in/groups,
  kh, kw] or [out, in]) drawn by torch: equal in distribution."""
  torch = pytest.importorskip('torch', reason='torch not installed (pip install torch==2.13.0)')
  torch.manual_seed(0)
  out, fan = shape[0], shape[1] * groups
  if len(shape) == 2:
    layer, x = layers.dense(out, init=scheme), np.zeros((1, fan))
    theirs = torch.nn.Linear(fan, out)
  else:
    layer = layers.conv(out, shape[2:], init=scheme, feature_group_count=groups)
    x, theirs = np.zeros((1, 8, 8, fan)), torch.nn.Conv2d(fan, out, shape[2:], groups=groups)
  if scheme == 'kaiming_fan_out':
    torch.nn.init.kaiming_normal_(theirs.weight, mode='fan_out', nonlinearity='relu')
    torch.nn.init.zeros_(theirs.bias)

  class One(nn.Module):
    @nn.compact
    def __call__(self, x):
      return layer(x)
  ours = One().init(jax.random.PRNGKey(0), x)['params']
  ours = {k: np.asarray(v) for k, v in next(iter(ours.values())).items()}
  assert ours['kernel'].size == theirs.weight.numel()
  assert stats.ks_2samp(ours['kernel'].ravel(),
                        theirs.weight.detach().numpy().ravel()).pvalue > 1e-3
  if scheme == 'torch':
    assert stats.ks_2samp(ours['bias'], theirs.bias.detach().numpy()).pvalue > 1e-3
  else:
    np.testing.assert_array_equal(ours['bias'], 0)
