"""The feature methods with parts or state (issue 28) through a grid over
their runtime keys (the point equal to its run alone) and a kill-and-resume
(bit-exact). CRD's are in test_methods_crd.py, CC's and VID's in
test_methods_parts.py; AB, FSP and FT train in stages, which grids refuse."""

import os

import ml_collections
import numpy as np
import pytest

from kdjax import grid
from kdjax import outputs
from kdjax import train
from tests.test_methods import _cnn_pair, _digits


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
  """A CNN pair's student config and a small CIFAR ResNet teacher's workdir."""
  root = tmp_path_factory.mktemp('zoo')
  cnn = _cnn_pair(root / 'cnn')
  resnet = _digits('teacher', epochs=1)
  resnet.model = _resnet((4, 8, 8, 16))
  train.train_and_evaluate(resnet, str(root / 'resnet'))
  return cnn, (resnet.model, str(root / 'resnet'))


def _resnet(widths):
  return ml_collections.ConfigDict(dict(name='resnet_cifar', stage_sizes=(1, 1, 1),
                                        widths=widths, param_init='torch'))


def _config(method, teachers):
  cnn, (resnet_model, resnet_dir) = teachers
  if method == 'ofd':
    config = _digits('student', epochs=2)
    config.model = _resnet((4, 4, 4, 8))
    config.teacher.model = resnet_model
    config.teacher.workdir = resnet_dir
    config.ofd.pairs = ('preact_2:preact_2', 'preact_3:preact_3')
  else:
    config = cnn.copy_and_resolve_references()
    config.train.epochs = 2
    if method == 'kdsvd':
      config.model = train.config_lib.cnn((4, 4), dense=(8,))
      config.kdsvd.pairs = ('block_0:block_0', 'block_1:block_1')
    else:
      config.reviewkd.update(pairs=('block_0:preact_1', 'embedding:embedding'),
                             warmup_epochs=2.0)
  config.method = method
  return config


@pytest.mark.parametrize('method,key,values', [
    ('kdsvd', 'kdsvd.weight', (0.5, 2.0)),
    ('reviewkd', 'reviewkd.weight', (0.2, 1.0)),
    ('ofd', 'ofd.weight', (0.0, 0.01)),
])
def test_a_grid_over_runtime_keys_and_a_bit_exact_resume(teachers, tmp_path, method, key,
                                                         values):
  configs = []
  for v in values:
    config = _config(method, teachers)
    section, leaf = key.split('.')
    config[section][leaf] = v
    configs.append(config)
  dirs = [str(tmp_path / f'point{i}') for i in range(2)]
  together = grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  assert together[0]['params_sha256'] != together[1]['params_sha256']
  alone = train.train_and_evaluate(configs[1], str(tmp_path / 'alone'))
  read = lambda d: outputs.read_predictions(os.path.join(d, 'predictions', 'test.npz'))['logits']
  np.testing.assert_allclose(read(dirs[1]), read(str(tmp_path / 'alone')), rtol=0, atol=1e-4)
  configs[1].train.epochs = 1  # killed after epoch 1, then resumed
  train.train_and_evaluate(configs[1], str(tmp_path / 'resumed'))
  configs[1].train.epochs = 2
  resumed = train.train_and_evaluate(configs[1], str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == alone['params_sha256']
  assert resumed['history'][-1]['train_loss'] == alone['history'][-1]['train_loss']
