"""PyTorch key layouts of kdjax's models: one explicit name map per architecture.

A layout lists, for every tensor of a PyTorch `state_dict`, its key, the
Flax variable it is (path into {'params', 'batch_stats'}) and how the two
are laid out (`Tensor.kind`). Nothing is matched by order or by guessing:
a layout is built from the model's own variable tree, so a block that has a
shortcut gets its shortcut keys and one that has not, none.

Layouts (`LAYOUTS[model.name]`, the first is the default):
- cnn, mlp: 'sequential': the study's models as `nn.Sequential` of
  `experiments/bench/torch_steps.py` (keys '0.weight', '3.bias', ...):
  per conv `Conv2d(3x3, padding=1), ReLU[, MaxPool2d(2)]` (the pool only
  where `model.pool` has one), then `Flatten`, per hidden dense
  `Linear, ReLU, Dropout`, then the classifier `Linear`; the MLP starts
  with `Flatten`.
- resnet: 'torchvision' (`torchvision.models.resnet18/34` with `conv1`
  replaced by a 3x3 stride-1 conv and no max-pool: 'conv1', 'bn1',
  'layer1.0.conv1', 'layer2.0.downsample.0', 'fc'), or 'cifar' (the common
  CIFAR implementation, kuangliu/pytorch-cifar: 'layer2.0.shortcut.0',
  'linear'; the same network).
- mobilenet_v2: 'torchvision' (`torchvision.models.mobilenet_v2`:
  'features.0.0', 'features.1.conv.0.0', 'features.18.0', 'classifier.1';
  kdjax's CIFAR variant only changes the stem's stride, not a key).
- resnet_cifar, wrn, vgg, mobilenet_v2_cifar, shufflenet: 'repdistiller',
  the CIFAR-100 benchmark's `models/` of RepDistiller and mdistiller (whose
  published teachers load as {'model': state_dict}): 'layer1.0.downsample.0',
  'fc'; 'block1.layer.0.convShortcut', 'bn1', 'fc'; 'block0.0', 'block0.1',
  'classifier'; 'blocks.0.0.conv.0', 'classifier.0'; 'layer1.0.conv1',
  'linear'. The bottleneck resnet_cifar (its ResNet50, resnetv2.py) has
  kuangliu's names: 'cifar', its default ('layer1.0.shortcut.0', 'linear').
"""

import dataclasses

import jax
import numpy as np

from kdjax import errors
from kdjax import models

# Tensor kinds: 'conv' (PyTorch OIHW <-> Flax HWIO), 'linear' ([out, in] <->
# [in, out]; with `flatten`, the input is a flattened [C, H, W] map in
# PyTorch and [H, W, C] in Flax), 'vector' (as is), 'count' (BatchNorm's
# num_batches_tracked: no Flax variable; ignored when read, 0 when written).
KINDS = ('conv', 'linear', 'vector', 'count')


@dataclasses.dataclass(frozen=True)
class Tensor:
  key: str  # the PyTorch state_dict key
  path: tuple  # e.g. ('params', 'conv_0', 'kernel'); () for a 'count'
  kind: str
  flatten: tuple = ()  # (h, w, c) of the map a 'linear' reads flattened


def _conv(key, path, params, bias=None):
  tensors = [Tensor(f'{key}.weight', ('params', *path, 'kernel'), 'conv')]
  if bias if bias is not None else 'bias' in at(params, path):
    tensors.append(Tensor(f'{key}.bias', ('params', *path, 'bias'), 'vector'))
  return tensors


def _linear(key, path, flatten=()):
  return [Tensor(f'{key}.weight', ('params', *path, 'kernel'), 'linear', flatten),
          Tensor(f'{key}.bias', ('params', *path, 'bias'), 'vector')]


def _bn(key, path):
  return [Tensor(f'{key}.weight', ('params', *path, 'scale'), 'vector'),
          Tensor(f'{key}.bias', ('params', *path, 'bias'), 'vector'),
          Tensor(f'{key}.running_mean', ('batch_stats', *path, 'mean'), 'vector'),
          Tensor(f'{key}.running_var', ('batch_stats', *path, 'var'), 'vector'),
          Tensor(f'{key}.num_batches_tracked', (), 'count')]


def at(tree, path):
  """The leaf of nested dicts `tree` at `path`."""
  for name in path:
    tree = tree[name]
  return tree


def _blocks(params):
  """[(stage, index, name)] of the 'stage{s}_block{b}' submodules, in network order."""
  found = [(*(int(n) for n in k[5:].split('_block')), k) for k in params
           if k.startswith('stage') and '_block' in k]
  return sorted(found)


def _flatten_shape(shape):
  """(h, w, c) of an input map flattened before a dense layer; () for vectors."""
  return tuple(shape) if len(shape) == 3 else ()


def sequential_cnn(model, variables, image_shape, features):
  params, tensors, index = variables['params'], [], 0
  pool = tuple(model.pool) or (True,) * len(model.convs)
  for i in range(len(model.convs)):
    tensors += _conv(str(index), (f'conv_{i}',), params)
    index += 3 if pool[i] else 2  # Conv2d, ReLU[, MaxPool2d]
  index += 1  # Flatten
  flatten = _flatten_shape(features[f'block_{len(model.convs) - 1}'].shape[1:])
  for i in range(len(model.dense)):
    tensors += _linear(str(index), (f'dense_{i}',), flatten if i == 0 else ())
    index += 3  # Linear, ReLU, Dropout
  return tensors + _linear(str(index), ('head',), () if model.dense else flatten)


def sequential_mlp(model, variables, image_shape, features):
  del variables, features
  if model.bn_residual:
    raise errors.ConfigError('the MLP with bn_residual has no nn.Sequential layout (its '
                      'residual is not a layer); expected an MLP without it')
  tensors, index = [], 1  # Flatten
  for i in range(len(model.hidden)):
    tensors += _linear(str(index), (f'dense_{i}',),
                       _flatten_shape(image_shape) if i == 0 else ())
    index += 3  # Linear, ReLU, Dropout
  return tensors + _linear(str(index), ('head',))


def _resnet(names):
  stem, stem_bn, shortcut, head = names

  def layout(model, variables, image_shape, features):
    del image_shape, features
    params = variables['params']
    tensors = _conv(stem, ('stem_conv',), params) + _bn(stem_bn, ('stem_bn',))
    for s, blocks in enumerate(model.stage_sizes, start=1):
      for b in range(blocks):
        key, block = f'layer{s}.{b}', f'stage{s}_block{b}'
        for i in (1, 2, 3):  # a bottleneck has conv3
          if f'conv{i}' in params[block]:
            tensors += _conv(f'{key}.conv{i}', (block, f'conv{i}'), params)
            tensors += _bn(f'{key}.bn{i}', (block, f'bn{i}'))
        if 'shortcut_conv' in params[block]:
          tensors += _conv(f'{key}.{shortcut}.0', (block, 'shortcut_conv'), params)
          tensors += _bn(f'{key}.{shortcut}.1', (block, 'shortcut_bn'))
    return tensors + _linear(head, ('head',))
  return layout


def repdistiller_wrn(model, variables, image_shape, features):
  """RepDistiller's/mdistiller's wrn.py: conv1, block{s}.layer.{b}.{bn1, conv1,
  bn2, conv2, convShortcut}, bn1, fc."""
  del image_shape, features
  params = variables['params']
  tensors = _conv('conv1', ('stem_conv',), params)
  for s in range(1, 4):
    for b in range(model._blocks()):  # pylint: disable=protected-access
      key, block = f'block{s}.layer.{b}', f'stage{s}_block{b}'
      for i in (1, 2):
        tensors += _bn(f'{key}.bn{i}', (block, f'bn{i}'))
        tensors += _conv(f'{key}.conv{i}', (block, f'conv{i}'), params)
      if 'shortcut_conv' in params[block]:
        tensors += _conv(f'{key}.convShortcut', (block, 'shortcut_conv'), params)
  return tensors + _bn('bn1', ('last_bn',)) + _linear('fc', ('head',))


def repdistiller_vgg(model, variables, image_shape, features):
  """RepDistiller's/mdistiller's vgg.py (vgg*_bn): block{b}.{3i} conv,
  block{b}.{3i+1} BN (the ReLUs hold no tensors), classifier."""
  del image_shape, features
  params, tensors = variables['params'], []
  for b, convs in enumerate(model._convs()):  # pylint: disable=protected-access
    for i in range(convs):
      tensors += _conv(f'block{b}.{3 * i}', (f'block{b}_conv{i}',), params)
      tensors += _bn(f'block{b}.{3 * i + 1}', (f'block{b}_bn{i}',))
  return tensors + _linear('classifier', ('head',))


def repdistiller_mobilenet_v2(model, variables, image_shape, features):
  """The benchmark's mobilenetv2.py (mobile_half): conv1.{0,1},
  blocks.{stage}.{block}.conv.{0,1,3,4,6,7}, conv2.{0,1}, classifier.0."""
  del model, image_shape, features
  params = variables['params']
  tensors = _conv('conv1.0', ('stem_conv',), params) + _bn('conv1.1', ('stem_bn',))
  for stage, index, block in _blocks(params):
    key = f'blocks.{stage - 1}.{index}.conv'
    for i, part in enumerate(('expand', 'depthwise', 'project')):
      tensors += _conv(f'{key}.{3 * i}', (block, f'{part}_conv'), params)
      tensors += _bn(f'{key}.{3 * i + 1}', (block, f'{part}_bn'))
  tensors += _conv('conv2.0', ('last_conv',), params) + _bn('conv2.1', ('last_bn',))
  return tensors + _linear('classifier.0', ('head',))


def repdistiller_shufflenet(model, variables, image_shape, features):
  """The benchmark's ShuffleNetv1.py / ShuffleNetv2.py: conv1, bn1,
  layer{s}.{b}.conv{i}/bn{i}, (V2: conv2, bn2), linear."""
  del model, image_shape, features
  params = variables['params']
  tensors = _conv('conv1', ('stem_conv',), params) + _bn('bn1', ('stem_bn',))
  for stage, index, block in _blocks(params):
    for i in range(1, 6):
      if f'conv{i}' in params[block]:
        tensors += _conv(f'layer{stage}.{index}.conv{i}', (block, f'conv{i}'), params)
        tensors += _bn(f'layer{stage}.{index}.bn{i}', (block, f'bn{i}'))
  if 'last_conv' in params:
    tensors += _conv('conv2', ('last_conv',), params) + _bn('bn2', ('last_bn',))
  return tensors + _linear('linear', ('head',))


def torchvision_mobilenet_v2(model, variables, image_shape, features):
  del model, image_shape, features
  params = variables['params']
  tensors = _conv('features.0.0', ('stem_conv',), params) + _bn('features.0.1', ('stem_bn',))
  blocks = [name for _, _, name in _blocks(params)]
  for index, block in enumerate(blocks, start=1):
    key, j = f'features.{index}.conv', 0
    if 'expand_conv' in params[block]:
      tensors += _conv(f'{key}.0.0', (block, 'expand_conv'), params)
      tensors += _bn(f'{key}.0.1', (block, 'expand_bn'))
      j = 1
    tensors += _conv(f'{key}.{j}.0', (block, 'depthwise_conv'), params)
    tensors += _bn(f'{key}.{j}.1', (block, 'depthwise_bn'))
    tensors += _conv(f'{key}.{j + 1}', (block, 'project_conv'), params)
    tensors += _bn(f'{key}.{j + 2}', (block, 'project_bn'))
  last = len(blocks) + 1
  tensors += _conv(f'features.{last}.0', ('last_conv',), params)
  tensors += _bn(f'features.{last}.1', ('last_bn',))
  return tensors + _linear('classifier.1', ('head',))


LAYOUTS = {
    'cnn': {'sequential': sequential_cnn},
    'mlp': {'sequential': sequential_mlp},
    'resnet': {'torchvision': _resnet(('conv1', 'bn1', 'downsample', 'fc')),
               'cifar': _resnet(('conv1', 'bn1', 'shortcut', 'linear'))},
    'mobilenet_v2': {'torchvision': torchvision_mobilenet_v2},
    # The CIFAR-100 benchmark's models (RepDistiller, mdistiller): their
    # resnet.py has torchvision's key names.
    'resnet_cifar': {'repdistiller': _resnet(('conv1', 'bn1', 'downsample', 'fc')),
                     # its resnetv2.py (ResNet50): kuangliu's names
                     'cifar': _resnet(('conv1', 'bn1', 'shortcut', 'linear'))},
    'wrn': {'repdistiller': repdistiller_wrn},
    'vgg': {'repdistiller': repdistiller_vgg},
    'mobilenet_v2_cifar': {'repdistiller': repdistiller_mobilenet_v2},
    'shufflenet': {'repdistiller': repdistiller_shufflenet},
}


def names(model_name: str) -> tuple:
  """The layouts of `model_name` (`resolve` picks the default)."""
  return tuple(LAYOUTS.get(model_name, ()))


def resolve(model_name: str, layout: str, model) -> str:
  """The layout `layout` names ('' = the model's default: its first, but
  'cifar' for the bottleneck `resnet_cifar`, the benchmark's ResNet50 from
  its resnetv2.py); an unknown one is refused."""
  choices = names(model_name)
  if not choices:
    raise errors.ConfigError(f'model {model_name!r} has no PyTorch layout; expected one '
                             f'of {sorted(LAYOUTS)}')
  if not layout:
    bottleneck = model_name == 'resnet_cifar' and getattr(model, 'block', '') == 'bottleneck'
    layout = 'cifar' if bottleneck else choices[0]
  if layout not in choices:
    raise errors.ConfigError(f'layout={layout!r} is not a layout of model {model_name!r}; '
                             f'expected one of {list(choices)}')
  return layout


def build(model_name: str, layout: str, model, variables, image_shape, features):
  """The `Tensor`s of `model` (a kdjax module, its variables' shapes, the
  input shape [H, W, C] and its feature shapes) in `layout` ('' = default)."""
  layout = resolve(model_name, layout, model)
  return LAYOUTS[model_name][layout](model, variables, image_shape, features)


def of_model(model_name: str, layout: str, model, image_shape):
  """(the `Tensor`s of `model` in `layout`, its variables' shapes) for
  inputs [H, W, C] = `image_shape`."""
  template = jax.eval_shape(lambda: models.init(model, jax.random.PRNGKey(0), image_shape))
  features = models.feature_shapes(model, image_shape)
  return build(model_name, layout, model, template, image_shape, features), template


def torch_shape(tensor: Tensor, flax_shape) -> tuple:
  """The PyTorch shape of a Flax variable of shape `flax_shape`."""
  if tensor.kind == 'conv':
    h, w, i, o = flax_shape
    return (o, i, h, w)
  if tensor.kind == 'linear':
    return tuple(flax_shape[::-1])
  return tuple(flax_shape)


def to_flax(tensor: Tensor, value: np.ndarray) -> np.ndarray:
  """A PyTorch tensor's value laid out as its Flax variable."""
  if tensor.kind == 'conv':
    return value.transpose(2, 3, 1, 0)
  if tensor.kind == 'linear':
    if tensor.flatten:
      h, w, c = tensor.flatten
      return value.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1)
    return value.T
  return value


def to_torch(tensor: Tensor, value: np.ndarray) -> np.ndarray:
  """A Flax variable's value laid out as its PyTorch tensor (`to_flax`'s inverse)."""
  if tensor.kind == 'conv':
    return value.transpose(3, 2, 0, 1)
  if tensor.kind == 'linear':
    if tensor.flatten:
      h, w, c = tensor.flatten
      return value.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(value.shape[1], -1)
    return value.T
  return value
