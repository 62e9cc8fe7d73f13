"""Every mapped architecture imported from PyTorch, exported back, and (one
per family) through ONNX: the figures behind docs/interop.md (issue 29).

  python experiments/interop_check.py   # -> experiments/results/interop.md

For each architecture the PyTorch model is the project's own definition
(tests/torch_models.py, tests/torch_cifar100_models.py), randomly
initialised, with non-trivial BatchNorm statistics, in eval mode; its
state_dict is imported with kdjax.interop, and kdjax's logits on 4 random
32x32 (MNIST: 28x28) images are compared with PyTorch's; the imported
variables are exported again and compared with the state_dict tensor by
tensor; one model per family is written to ONNX (jax2onnx) and run by ONNX
Runtime on the same images. Needs torch, jax2onnx and onnxruntime.
"""

import os
import sys
import tempfile

import jax
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from kdjax import config as config_lib  # pylint: disable=wrong-import-position
from kdjax import models  # pylint: disable=wrong-import-position
from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax.interop import export  # pylint: disable=wrong-import-position
from kdjax.interop import layouts  # pylint: disable=wrong-import-position
from kdjax.interop import state_dict  # pylint: disable=wrong-import-position
from kdjax.models import benchmark  # pylint: disable=wrong-import-position
from tests import torch_cifar100_models  # pylint: disable=wrong-import-position
from tests import torch_models  # pylint: disable=wrong-import-position

CIFAR, MNIST = (32, 32, 3), (28, 28, 1)
ONNX = ('cnn teacher', 'mlp', 'ResNet-18 (torchvision)', 'MobileNetV2 (torchvision)',
        'resnet8x4', 'ResNet50', 'wrn_16_2', 'vgg8', 'MobileNetV2', 'ShuffleV1', 'ShuffleV2')


def architectures():
  """[(label, kdjax model config, layout, input shape, classes, PyTorch builder)]."""
  teacher = config_lib.cnn((64, 128, 256), dense=(1024,), dropout=0.3)
  fitnet = config_lib.cnn((32, 48, 64), pool=(True, True, False))
  rows = [
      ('cnn teacher', teacher, '', CIFAR, 10,
       lambda: torch_models.sequential_cnn((64, 128, 256), (1024,))),
      ('cnn student', config_lib.cnn((32, 64), dense=(256,)), '', CIFAR, 10,
       lambda: torch_models.sequential_cnn((32, 64), (256,))),
      ('cnn FitNet student', fitnet, '', CIFAR, 10,
       lambda: torch_models.sequential_cnn((32, 48, 64), (), (True, True, False))),
      ('mlp', config_lib.mlp((1200, 1200)), '', MNIST, 10,
       lambda: torch_models.sequential_mlp((1200, 1200))),
      ('ResNet-18 (torchvision)', {'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, '', CIFAR,
       10, lambda: torch_models.ResNet((2, 2, 2, 2))),
      ('ResNet-34 (torchvision)', {'name': 'resnet', 'stage_sizes': (3, 4, 6, 3)}, '', CIFAR,
       10, lambda: torch_models.ResNet((3, 4, 6, 3))),
      ('ResNet-18 (cifar)', {'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, 'cifar', CIFAR,
       10, lambda: torch_models.ResNet((2, 2, 2, 2), layout='cifar')),
      ('ResNet-34 (cifar)', {'name': 'resnet', 'stage_sizes': (3, 4, 6, 3)}, 'cifar', CIFAR,
       10, lambda: torch_models.ResNet((3, 4, 6, 3), layout='cifar')),
      ('MobileNetV2 (torchvision)', {'name': 'mobilenet_v2'}, '', CIFAR, 10,
       torch_models.MobileNetV2),
  ]
  for name in benchmark.MODELS:
    rows.append((name, benchmark.model(name), '', CIFAR, 100,
                 lambda name=name: torch_cifar100_models.MODELS[name](num_classes=100)))
  return rows


def check(label, model_config, layout, shape, classes, build, tmp):
  torch.manual_seed(0)
  net = torch_models.randomise_batch_norm(build()).eval()
  path = os.path.join(tmp, 'model.pth')
  torch.save({'model': net.state_dict()}, path)
  model = models.create(model_config, classes)
  tensors, template = layouts.of_model(model_config['name'], layout, model, shape)
  variables = state_dict.to_variables(state_dict.read(path), tensors, template, label)
  images = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
  with torch.no_grad():
    expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
  got = np.asarray(jax.jit(lambda v, x: model.apply(v, x))(variables, images))
  original = net.state_dict()
  exported = state_dict.from_variables(variables, tensors)
  same = list(exported) == list(original) and all(
      np.array_equal(exported[k], v.numpy()) for k, v in original.items()
      if not k.endswith('num_batches_tracked'))
  row = {'label': label, 'layout': layouts.resolve(model_config['name'], layout, model),
         'params': models.param_count(variables['params']),
         'torch_params': sum(p.numel() for p in net.parameters()),
         'import': float(np.abs(got - expected).max() / np.abs(expected).max()),
         'round_trip': same, 'onnx': None}
  if label in ONNX:
    data = _Data(images, shape)
    onnx = export.write_onnx(os.path.join(tmp, 'model.onnx'), model, variables, data)
    row['onnx'] = onnx['max_abs_logit_difference'] / onnx['max_abs_logit']
  return row


class _Data:
  """The fields of a kdjax Dataset that `export.write_onnx` reads, with a
  standardisation ((x / 255 - 0) / (1 / 255)) that gives the images back."""

  def __init__(self, images, shape):
    self.image_shape = shape
    self.mean, self.std = (0.0,) * shape[2], (1 / 255,) * shape[2]
    self.test = type('Split', (), {'images': images})()


def main():
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for arch in architectures():
      rows.append(check(*arch, tmp))
      print(rows[-1], flush=True)
  lines = ['# PyTorch in, PyTorch and ONNX out: every mapped architecture', '',
           'Made by `python experiments/interop_check.py` (its docstring says how). '
           'Import: the largest |kdjax logit − PyTorch logit| over 4 random images, '
           'relative to the largest |PyTorch logit| (eval mode, random BatchNorm '
           'statistics). Round trip: the export of the imported variables equals the '
           'state_dict tensor by tensor, in its key order. ONNX: ONNX Runtime against '
           'kdjax on the same images, relative likewise (one model per family).', '',
           '| architecture | layout | params (kdjax = PyTorch) | import, rel. max diff | '
           'round trip | ONNX, rel. max diff |', '|---|---|---:|---:|---|---:|']
  for r in rows:
    params = (f'{r["params"]:,}' if r['params'] == r['torch_params']
              else f'{r["params"]:,} ≠ {r["torch_params"]:,}')
    onnx = '' if r['onnx'] is None else f'{r["onnx"]:.1e}'
    lines.append(f'| {r["label"]} | {r["layout"]} | {params} | {r["import"]:.1e} | '
                 f'{"bit-identical" if r["round_trip"] else "DIFFERS"} | {onnx} |')
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results', 'interop.md')
  outputs.write_text(path, '\n'.join(lines) + '\n')
  print(f'wrote {path}')


if __name__ == '__main__':
  main()
