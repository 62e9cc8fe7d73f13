"""Model registry: a config's `model.name` picks a Flax module here.

The model protocol: what every entry of `MODELS` provides, so that any
method can train any model it can apply to (checked for every registered
model by tests/test_models.py::test_model_protocol):

- a `flax.linen.Module` built as `cls(num_classes=..., dtype=..., **fields)`;
  `dtype` is the compute dtype (`train.compute_dtype`), parameters stay
  float32. A model with BatchNorm has an `axis_name` field: `create` sets
  it on several devices, and the batch statistics are averaged over it.
- `__call__(x, *, train=False, return_features=False)`: images
  [B, H, W, C] -> logits [B, num_classes]; with `return_features`,
  (logits, features): named activations [B, ...] that include
  'embedding' [B, D], the classifier's input (RKD reads it), and, for
  convolutional models, feature maps [B, h, w, c] (FitNets' hints,
  attention transfer's pairs). The parameter tree is the same either way.
- `trunk(feature)`: the top-level submodules that compute `feature`
  (FitNets' stage 1 trains only those).
"""

import dataclasses
import hashlib

import flax.linen as nn
import jax
import numpy as np

from kdjax import errors
from kdjax.models import layers
from kdjax.models.cnn import CNN
from kdjax.models.mlp import MLP
from kdjax.models.mobilenet import CifarMobileNetV2
from kdjax.models.mobilenet import MobileNetV2
from kdjax.models.parts import WithMethodParts
from kdjax.models.resnet import CifarResNet
from kdjax.models.resnet import ResNet
from kdjax.models.shufflenet import ShuffleNet
from kdjax.models.vgg import VGG
from kdjax.models.wrn import WideResNet

MODELS = {'mlp': MLP, 'cnn': CNN, 'resnet': ResNet, 'mobilenet_v2': MobileNetV2,
          'resnet_cifar': CifarResNet, 'wrn': WideResNet, 'vgg': VGG,
          'mobilenet_v2_cifar': CifarMobileNetV2, 'shufflenet': ShuffleNet}
CONVOLUTIONAL = ('cnn', 'resnet', 'mobilenet_v2', 'resnet_cifar', 'wrn', 'vgg',
                 'mobilenet_v2_cifar', 'shufflenet')


def create(model_config, num_classes: int, axis_name=None,
           dtype='float32') -> nn.Module:
  """Builds the module that `model_config` ({'name': ..., **fields}) names.

  `axis_name`: the device axis over which BatchNorm statistics are averaged
  when a step runs on several devices. `dtype`: the compute dtype
  (`train.compute_dtype`; parameters stay float32). Neither is a model key.
  """
  kwargs = dict(model_config)
  name = kwargs.pop('name', None)
  if name not in MODELS:
    raise errors.ConfigError(
        f'model.name={name!r} is unknown; expected one of {sorted(MODELS)}')
  cls = MODELS[name]
  fields = {f.name for f in dataclasses.fields(cls)} - {'parent', 'name',
                                                          'axis_name', 'dtype'}
  for key in kwargs:
    if key not in fields:
      raise errors.ConfigError(
          f'unknown option {key!r} for model {name!r}; expected one of '
          f'{sorted(fields - {"num_classes"})}')
  if kwargs.get('param_init', 'flax') not in layers.INITS:
    raise errors.ConfigError(
        f'model.param_init={kwargs["param_init"]!r} is unknown; expected one of {layers.INITS} '
        "(Flax's defaults, or the weights the PyTorch reference model draws)")
  if 'activation' in kwargs and not callable(getattr(nn, kwargs['activation'], None)):
    raise errors.ConfigError(
        f'model.activation={kwargs["activation"]!r} is not a flax.linen '
        "activation; expected e.g. 'relu' or 'gelu'")
  if axis_name is not None and 'axis_name' in {f.name for f in dataclasses.fields(cls)}:
    kwargs['axis_name'] = axis_name
  return cls(num_classes=num_classes, dtype=jax.numpy.dtype(dtype), **kwargs)


def init(model: nn.Module, rng, input_shape) -> dict:
  """Initial variables ({'params', maybe 'batch_stats'}) for inputs [1, *input_shape]."""
  dummy = jax.numpy.zeros((1, *input_shape), jax.numpy.float32)
  return dict(jax.jit(lambda r: model.init(r, dummy, train=False))(rng))


def feature_shapes(model: nn.Module, input_shape) -> dict:
  """{'logits': ..., **features}: shapes of `model`'s outputs for one input."""
  logits, features = jax.eval_shape(lambda: model.init_with_output(
      jax.random.PRNGKey(0), jax.numpy.zeros((1, *input_shape)),
      return_features=True)[0])
  return {'logits': logits, **features}


def param_count(params) -> int:
  """Number of trainable parameters (BatchNorm statistics excluded)."""
  return int(sum(np.prod(p.shape) for p in jax.tree.leaves(params)))


def fingerprint(params) -> str:
  """SHA-256 of the parameters' bytes in tree order: equal iff bit-identical."""
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(params):
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return digest.hexdigest()
