"""PyTorch checkpoints in and out (`kdjax.interop`, `kdjax.convert`, `kdjax.export`).

Each mapped architecture is built in PyTorch (tests/torch_models.py, from the
architecture's definition), given non-trivial BatchNorm statistics, saved as
a state_dict, imported, and its eval-mode logits compared with PyTorch's on
random images (1e-5 of the largest logit); the export of the imported
variables must give back the same state_dict bit for bit. The file and key
handling (wrappers, DataParallel's prefix, refusals) runs without torch on
safetensors files.
"""

import importlib.util
import json
import os
import types

import jax
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import loop
from kdjax import models
from kdjax import outputs
from kdjax import train
from kdjax.interop import convert
from kdjax.interop import export
from kdjax.interop import layouts
from kdjax.interop import state_dict
from tests.conftest import REPO, load_config, write_image_folder

SMALL_CNN = config_lib.cnn((8, 16), dense=(32,))
SLOW = pytest.mark.skipif(not os.environ.get('KDJAX_SLOW_TESTS'),
                          reason='set KDJAX_SLOW_TESTS=1 (a minute on a CPU: MobileNetV2 '
                          'through jax2onnx)')


def _import(model_config, state, layout='', shape=(32, 32, 3)):
  model = models.create(model_config, 10)
  tensors, template = layouts.of_model(model_config['name'], layout, model, shape)
  return model, tensors, state_dict.to_variables(state, tensors, template, 'ckpt')


def _architectures():
  torch_models = pytest.importorskip('tests.torch_models', reason='needs torch')
  cifar_config = load_config(os.path.join(REPO, 'configs/cifar10_cnn/teacher.py'))
  teacher = dict(cifar_config.model)
  fitnet = config_lib.cnn((32, 48, 64), pool=(True, True, False))
  return [
      ('cnn_teacher', teacher, '', (32, 32, 3), lambda: torch_models.sequential_cnn(
          teacher['convs'], teacher['dense'])),
      ('cnn_fitnet', fitnet, '', (32, 32, 3), lambda: torch_models.sequential_cnn(
          fitnet['convs'], (), fitnet['pool'])),
      ('mlp', config_lib.mlp((64, 32)), '', (28, 28, 1),
       lambda: torch_models.sequential_mlp((64, 32))),
      ('mlp_rgb', config_lib.mlp((16,)), '', (8, 8, 3),
       lambda: torch_models.sequential_mlp((16,), 8 * 8 * 3)),
      ('resnet18_torchvision', {'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, '',
       (32, 32, 3), lambda: torch_models.ResNet((2, 2, 2, 2))),
      ('resnet34_cifar', {'name': 'resnet', 'stage_sizes': (3, 4, 6, 3)}, 'cifar',
       (32, 32, 3), lambda: torch_models.ResNet((3, 4, 6, 3), layout='cifar')),
      ('mobilenet_v2_torchvision', {'name': 'mobilenet_v2'}, '', (32, 32, 3),
       torch_models.MobileNetV2),
  ]


@pytest.mark.parametrize('index', range(7), ids=[
    'cnn_teacher', 'cnn_fitnet', 'mlp', 'mlp_rgb', 'resnet18_torchvision',
    'resnet34_cifar', 'mobilenet_v2_torchvision'])
def test_import_matches_pytorch_logits_and_export_round_trips(index, tmp_path):
  import torch  # pylint: disable=g-import-not-at-top
  from tests import torch_models  # pylint: disable=g-import-not-at-top
  name, model_config, layout, shape, build = _architectures()[index]
  torch.manual_seed(index)
  net = torch_models.randomise_batch_norm(build(), seed=index).eval()
  path = str(tmp_path / f'{name}.pth')
  torch.save({'model': net.state_dict(), 'epoch': 240}, path)  # a training script's wrapper
  model, tensors, variables = _import(model_config, state_dict.read(path), layout, shape)
  images = np.random.default_rng(index).normal(size=(3, *shape)).astype(np.float32)
  with torch.no_grad():
    expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
  got = np.asarray(model.apply(variables, images))
  assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max(), name
  assert models.param_count(variables['params']) == sum(
      p.numel() for p in net.parameters())
  exported = state_dict.from_variables(variables, tensors)
  original = net.state_dict()
  assert list(exported) == list(original)  # same keys, in PyTorch's order
  for key, value in original.items():
    if not key.endswith('num_batches_tracked'):
      np.testing.assert_array_equal(exported[key], value.numpy(), err_msg=key)
  net.load_state_dict({k: torch.from_numpy(v) for k, v in exported.items()})


@pytest.mark.parametrize('model_config,shape', [
    (SMALL_CNN, (32, 32, 3)), (config_lib.mlp((16,)), (28, 28, 1)),
    # two blocks in a stage: the residual add after BatchNorm that jax2onnx's
    # module plugins mis-shaped (kdjax traces to primitives first)
    ({'name': 'resnet', 'stage_sizes': (2, 1), 'width': 8}, (32, 32, 3)),
    pytest.param({'name': 'mobilenet_v2'}, (32, 32, 3), marks=SLOW)],
    ids=['cnn', 'mlp', 'resnet', 'mobilenet_v2'])
def test_onnx_export_equals_kdjax_logits(model_config, shape, tmp_path):
  """ONNX Runtime's logits of the exported graph (NCHW input) equal kdjax's
  to float32 rounding on standardised images."""
  pytest.importorskip('jax2onnx', reason="needs the [onnx] extra")
  import onnxruntime  # pylint: disable=g-import-not-at-top
  model = models.create(model_config, 10)
  variables = models.init(model, jax.random.PRNGKey(0), shape)
  rng = np.random.default_rng(0)
  data = types.SimpleNamespace(
      test=types.SimpleNamespace(images=rng.integers(0, 256, (6, *shape), np.uint8)),
      mean=(0.5,) * shape[2], std=(0.25,) * shape[2], image_shape=shape)
  path = str(tmp_path / 'student.onnx')
  check = export.write_onnx(path, model, variables, data)
  assert check['max_abs_logit_difference'] <= 1e-5 * check['max_abs_logit']
  images = (data.test.images / 255.0 - 0.5) / 0.25
  session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
  got = session.run(None, {'images': images.transpose(0, 3, 1, 2).astype(np.float32)})[0]
  np.testing.assert_allclose(got, model.apply(variables, images.astype(np.float32)),
                             rtol=1e-5, atol=1e-5 * check['max_abs_logit'])


def _cnn_state(seed=0):
  """A random state_dict of SMALL_CNN in the sequential layout (numpy)."""
  model = models.create(SMALL_CNN, 10)
  tensors, template = layouts.of_model('cnn', '', model, (32, 32, 3))
  rng = np.random.default_rng(seed)
  state = {t.key: rng.normal(size=layouts.torch_shape(
      t, layouts.at(template, t.path).shape)).astype(np.float32) for t in tensors}
  return state


def test_sequential_cnn_keys_and_flatten_order():
  """Keys follow nn.Sequential's indices (Conv2d, ReLU, MaxPool2d per conv;
  Flatten; Linear, ReLU, Dropout per hidden dense); the first dense reads
  PyTorch's [C, H, W] flatten, so its input rows are permuted to [H, W, C]."""
  state = _cnn_state()
  assert list(state) == ['0.weight', '0.bias', '3.weight', '3.bias', '7.weight',
                         '7.bias', '10.weight', '10.bias']
  _, _, variables = _import(SMALL_CNN, state)
  kernel, weight = variables['params']['dense_0']['kernel'], state['7.weight']
  h, w, c = 8, 8, 16
  for (y, x, ch) in [(0, 0, 1), (3, 5, 7), (7, 7, 15)]:
    np.testing.assert_array_equal(kernel[(y * w + x) * c + ch], weight[:, ch * h * w + y * w + x])


def test_safetensors_wrappers_and_prefix(tmp_path):
  from safetensors import numpy as st  # pylint: disable=g-import-not-at-top
  state = _cnn_state()
  path = str(tmp_path / 'ddp.safetensors')
  st.save_file({f'module.{k}': v for k, v in state.items()}, path)
  read = state_dict.read(path)
  assert sorted(read) == sorted(state)
  nested = {'epoch': 3, 'model': {'state_dict': state}}
  assert state_dict.unwrap(nested) is state


@pytest.mark.parametrize('change,message', [
    (lambda s: s.pop('3.bias'), "tensor '3.bias' is missing"),
    (lambda s: s.update({'fc.weight': np.zeros((2, 2), np.float32)}),
     "unexpected tensor 'fc.weight'"),
    (lambda s: s.update({'0.weight': np.zeros((8, 3, 5, 5), np.float32)}),
     r"tensor '0.weight' is \(8, 3, 5, 5\); the model expects \(8, 3, 3, 3\)"),
    (lambda s: s['10.bias'].__setitem__(0, np.nan), "'10.bias' holds NaN"),
    (lambda s: s.update({'0.bias': np.zeros(8, np.int64)}), "'0.bias' is int64"),
])
def test_refusals_name_the_tensor(change, message):
  state = _cnn_state()
  change(state)
  with pytest.raises(errors.CheckpointError, match=message):
    _import(SMALL_CNN, state)


def test_unknown_layout_and_bn_mlp_refused():
  with pytest.raises(errors.ConfigError, match=r"layout='cifar' is not a layout of model 'cnn'; expected one of \['sequential'\]"):
    layouts.of_model('cnn', 'cifar', models.create(SMALL_CNN, 10), (32, 32, 3))
  with pytest.raises(errors.ConfigError, match='bn_residual'):
    layouts.of_model('mlp', '', models.create(config_lib.mlp((8, 8), bn_residual=True), 10),
                     (28, 28, 1))


def _config(name, data, **model):
  config = load_config(os.path.join(REPO, f'configs/cifar10_cnn/{name}.py'))
  config.dataset.data_dir, config.latency.repeats = data, 2
  config.model.update(model)
  return config


def test_convert_then_distil_then_export(cli, tmp_path):
  """A PyTorch teacher becomes a teacher workdir that a KD student trains
  from; the student is exported and read back bit for bit; nothing is
  overwritten, and a bad checkpoint is one line and leaves no workdir."""
  from safetensors import numpy as st  # pylint: disable=g-import-not-at-top
  data = write_image_folder(str(tmp_path / 'data'), per_class=(4, 3))
  state = _cnn_state(seed=1)
  path = str(tmp_path / 'teacher.safetensors')
  st.save_file(state, path)
  config = _config('teacher', data, convs=(8, 16), dense=(32,))
  teacher = str(tmp_path / 'teacher')
  metrics = convert.import_checkpoint(config, path, '', teacher)
  assert metrics['imported']['layout'] == 'sequential' and metrics['finished']
  assert metrics['imported']['sha256'] == outputs.file_sha256(path)
  assert metrics['params'] == sum(v.size for v in state.values())
  # Its predictions are the imported network's, on the configured test set.
  test = data_lib.load(config.dataset)
  model, _, variables = _import(SMALL_CNN, state)
  logits = loop.predictor(loop.plan(config), test, model)(variables, test.test.images)
  saved = outputs.read_predictions(os.path.join(teacher, 'predictions', 'test.npz'))
  np.testing.assert_allclose(saved['logits'], logits, rtol=1e-6, atol=1e-6)
  with pytest.raises(errors.ConfigError, match='is not empty'):
    convert.import_checkpoint(config, path, '', teacher)

  state.pop('0.bias')
  st.save_file(state, path)
  bad = cli('--config=configs/cifar10_cnn/teacher.py', f'--checkpoint={path}',
            f'--workdir={tmp_path / "bad"}', f'--config.dataset.data_dir={data}',
            '--config.model.convs=(8,16)', '--config.model.dense=(32,)', module='kdjax.convert')
  assert bad.returncode == 2 and "tensor '0.bias' is missing" in bad.stderr
  assert bad.stderr.count('\n') == 1 and not os.path.exists(tmp_path / 'bad')

  student = str(tmp_path / 'kd')
  config = _config('kd', data)
  config.teacher.workdir = teacher
  config.teacher.model.update(convs=(8, 16), dense=(32,))
  config.train.update(epochs=1, batch_size=8)
  trained = train.train_and_evaluate(config, student)
  assert trained['teacher']['params_sha256'] == metrics['params_sha256']

  out = str(tmp_path / 'export')
  formats = ['safetensors'] + (['pt'] if importlib.util.find_spec('torch') else [])
  record = export.export_run(student, out, formats)
  assert record['params_sha256'] == trained['params_sha256']
  assert json.load(open(os.path.join(out, 'export.json'))) == record
  exported = st.load_file(os.path.join(out, 'student.safetensors'))
  assert exported['0.weight'].shape == (32, 3, 3, 3)  # the study student's first conv, OIHW
  if 'pt' in formats:  # the .pt loads strictly into the study's PyTorch student
    import torch  # pylint: disable=g-import-not-at-top
    from tests import torch_models  # pylint: disable=g-import-not-at-top
    net = torch_models.sequential_cnn((32, 64), (256,))
    net.load_state_dict(torch.load(os.path.join(out, 'student.pt'), weights_only=True))
    for key, value in net.state_dict().items():
      np.testing.assert_array_equal(value.numpy(), exported[key], err_msg=key)
  assert export.summary(record).startswith('student.safetensors')
  assert 'ONNX' in export.summary({'step': 1, 'files': {'student.onnx': ''}, 'onnx': {
      'max_abs_logit_difference': 1e-8, 'checked_images': 5}})  # an ONNX-only export
  with pytest.raises(errors.ConfigError, match='exists'):
    export.export_run(student, out, ['safetensors'])
