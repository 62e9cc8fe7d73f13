"""The CIFAR-100 benchmark's models (`kdjax.models.benchmark`): parameter
counts equal to the reference PyTorch models', their features, their
initialisation, the import of a PyTorch state_dict in the benchmark's key
layout (logits equal PyTorch's; export gives it back bit for bit), and the
benchmark configs' runlocal runs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import models
from kdjax import train
from kdjax.interop import layouts
from kdjax.interop import state_dict
from kdjax.models import benchmark
from tests.conftest import REPO, load_config, write_cifar100_python

CIFAR = (32, 32, 3)
SLOW = pytest.mark.skipif(not os.environ.get('KDJAX_SLOW_TESTS'),
                          reason='set KDJAX_SLOW_TESTS=1 (minutes on a CPU)')


def _shapes(name):
  model = models.create(benchmark.model(name), 100)
  return model, jax.eval_shape(lambda: models.init(model, jax.random.PRNGKey(0), CIFAR))


@pytest.mark.parametrize('name', sorted(benchmark.MODELS))
def test_parameter_counts_equal_the_reference_models(name):
  # benchmark.PARAMS: sum(p.numel()) of the project's PyTorch definitions of
  # RepDistiller's/mdistiller's models for 100 classes (tests/torch_cifar100_models.py;
  # experiments/interop_check.py compares every one).
  _, variables = _shapes(name)
  assert models.param_count(variables['params']) == benchmark.PARAMS[name]


@pytest.mark.parametrize('name,features', [
    ('resnet8x4', {'stem': (32, 32, 32), 'stage_1': (32, 32, 64), 'stage_3': (8, 8, 256),
                   'embedding': (256,)}),
    ('wrn_16_2', {'stem': (32, 32, 16), 'stage_2': (16, 16, 64), 'last': (8, 8, 128),
                  'embedding': (128,)}),
    ('vgg8', {'block_0': (32, 32, 64), 'block_3': (4, 4, 512), 'block_4': (4, 4, 512),
              'embedding': (512,)}),
    ('ResNet50', {'stem': (32, 32, 64), 'stage_1': (32, 32, 256), 'stage_4': (4, 4, 2048),
                  'embedding': (2048,)}),
    ('MobileNetV2', {'stem': (16, 16, 16), 'stage_2': (16, 16, 12), 'stage_7': (2, 2, 160),
                     'last': (2, 2, 1280), 'embedding': (1280,)}),
    ('ShuffleV1', {'stem': (32, 32, 24), 'stage_1': (16, 16, 240), 'stage_3': (4, 4, 960),
                   'embedding': (960,)}),
    ('ShuffleV2', {'stage_1': (16, 16, 116), 'stage_3': (4, 4, 464), 'last': (4, 4, 1024),
                   'embedding': (1024,)}),
])
def test_named_features_follow_the_model_protocol(name, features):
  model, variables = _shapes(name)
  shapes = models.feature_shapes(model, CIFAR)
  for feature, shape in features.items():
    assert shapes[feature].shape == (1, *shape), feature
    assert set(model.trunk(feature)) <= set(variables['params'])


def test_torch_init_draws_as_the_reference_code():
  """Convs N(0, 2/fan_out) (the ResNets' stem too), VGG's conv biases 0 and
  classifier N(0, 0.01^2), the WRN classifier's bias 0."""
  params = {name: models.init(models.create(benchmark.model(name), 100),
                              jax.random.PRNGKey(0), CIFAR)['params']
            for name in ('resnet8x4', 'wrn_16_1', 'vgg8')}
  stem = params['resnet8x4']['stem_conv']['kernel']  # 3x3x3 -> 32: fan_out 288
  assert float(jnp.std(stem)) == pytest.approx(np.sqrt(2 / 288), rel=0.15)
  conv = params['vgg8']['block3_conv0']  # 3x3x256 -> 512: fan_out 4608
  assert float(jnp.std(conv['kernel'])) == pytest.approx(np.sqrt(2 / 4608), rel=0.02)
  assert not jnp.any(conv['bias'])
  assert float(jnp.std(params['vgg8']['head']['kernel'])) == pytest.approx(0.01, rel=0.05)
  head = params['wrn_16_1']['head']
  assert not jnp.any(head['bias']) and float(jnp.abs(head['kernel']).max()) <= 1 / np.sqrt(64)


FAST_IMPORTS = ('resnet8', 'resnet8x4', 'resnet20', 'wrn_16_1', 'wrn_16_2', 'vgg8', 'vgg11',
                'ResNet50', 'MobileNetV2', 'ShuffleV1', 'ShuffleV2')


@pytest.mark.parametrize('name', [  # every model; the larger of a family with KDJAX_SLOW_TESTS
    pytest.param(n, marks=() if n in FAST_IMPORTS else SLOW) for n in sorted(benchmark.MODELS)])
def test_import_matches_pytorch_and_export_round_trips(name):
  """State_dicts of the benchmark's PyTorch models (tests/torch_cifar100_models.py,
  written from RepDistiller's/mdistiller's definitions), with non-trivial
  BatchNorm statistics: eval logits equal to 1e-5 of the largest, and the
  export gives every tensor back in PyTorch's key order."""
  torch = pytest.importorskip('torch', reason='needs torch')
  from tests import torch_cifar100_models  # pylint: disable=g-import-not-at-top
  from tests import torch_models  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  net = torch_models.randomise_batch_norm(torch_cifar100_models.MODELS[name](num_classes=100))
  net.eval()
  model, template = _shapes(name)
  tensors = layouts.build(benchmark.MODELS[name]['name'], '', model, template, CIFAR,
                          models.feature_shapes(model, CIFAR))
  original = {k: v.numpy() for k, v in net.state_dict().items()}
  variables = state_dict.to_variables(original, tensors, template, name)
  images = np.random.default_rng(0).normal(size=(2, *CIFAR)).astype(np.float32)
  with torch.no_grad():
    expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
  got = np.asarray(model.apply(variables, images))
  assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
  exported = state_dict.from_variables(variables, tensors)
  assert list(exported) == list(original)
  for key, value in original.items():
    if not key.endswith('num_batches_tracked'):
      np.testing.assert_array_equal(exported[key], value, err_msg=key)


def test_benchmark_recipe():
  config = load_config(os.path.join(REPO, 'configs', 'cifar100', 'kd.py'))
  assert (config.teacher.model.to_dict(), config.model.to_dict()) == (
      dict(benchmark.MODELS['resnet32x4'], param_init='torch'),
      dict(benchmark.MODELS['resnet8x4'], param_init='torch'))
  opt = config.optimizer
  assert (opt.name, opt.learning_rate, opt.momentum, opt.weight_decay) == ('sgd', 0.05, 0.9, 5e-4)
  assert (opt.schedule, tuple(opt.decay_epochs), opt.decay_factor) == (
      'multistep', (150, 180, 210), 0.1)
  assert (config.train.epochs, config.train.batch_size) == (240, 64)
  assert (config.dataset.name, config.dataset.translate, config.dataset.flip) == (
      'cifar100', 4, True)
  assert (config.method, config.distill.temperature, config.distill.alpha) == ('kd', 4.0, 0.1)
  config.teacher.workdir = 'runs/cifar100/resnet32x4'
  config_lib.validate(config)


def _runlocal(tmp_path, pair):
  """The pair's teacher config, then its KD config, in their runlocal forms."""
  data = str(tmp_path / 'data')
  os.makedirs(data)
  write_cifar100_python(os.path.join(data, 'cifar-100-python.tar.gz'), n_train=64, n_test=64)
  teacher_name, student_name = pair.split('-')
  results = {}
  for row, arg in (('teacher', teacher_name), ('kd', pair)):
    config = _config_file(row, arg)
    config.update(runlocal=True)
    config.dataset.data_dir = data
    if row == 'kd':
      config.teacher.workdir = str(tmp_path / 'teacher')
    results[row] = train.train_and_evaluate(config, str(tmp_path / row))
  assert results['teacher']['params'] == benchmark.PARAMS[teacher_name]
  assert results['kd']['params'] == benchmark.PARAMS[student_name]
  assert results['kd']['teacher']['params_sha256'] == results['teacher']['params_sha256']


def _config_file(row, arg):
  """get_config(arg) of configs/cifar100/<row>.py (the file:arg of the command line)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      'config', os.path.join(REPO, 'configs', 'cifar100', f'{row}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def test_student_config_is_the_baseline_of_its_model():
  config = _config_file('student', 'wrn_16_2')
  assert config.method == 'none' and config.model.to_dict() == benchmark.model('wrn_16_2').to_dict()


def test_vgg_pair_runs_in_its_runlocal_form(tmp_path):
  _runlocal(tmp_path, 'vgg13-vgg8')


def test_lightweight_students_train_at_a_lower_rate():
  assert config_lib.cifar100_benchmark('vgg13', 'MobileNetV2').optimizer.learning_rate == 0.01
  assert config_lib.cifar100_benchmark('resnet32x4', 'ShuffleV2').optimizer.learning_rate == 0.01
  assert config_lib.cifar100_benchmark('vgg13', 'vgg8').optimizer.learning_rate == 0.05


def test_methods_take_their_references_cifar100_settings():
  """DIST's dist_cifar.yaml (tau 4, weight 2); CTKD's theta in the student's
  scheduled SGD (the reference's trainable_list)."""
  config = config_lib.cifar100_benchmark('resnet32x4', 'ShuffleV1')
  assert (config.dist.beta, config.dist.gamma, config.dist.temperature) == (2.0, 2.0, 4.0)
  assert config.ctkd.optimizer.to_dict() == config.optimizer.to_dict()
  assert config.ctkd.optimizer.learning_rate == 0.01
  assert config.ctkd.optimizer.schedule == 'multistep'
  assert tuple(config.ctkd.optimizer.decay_epochs) == (150, 180, 210)


@pytest.mark.parametrize('teacher,student,ab_fsp,ft', [
    ('resnet32x4', 'resnet8x4', 0.05, 0.01),   # FT's paraphraser at 0.01 for ResNets
    ('wrn_40_2', 'wrn_16_2', 0.05, 0.01),
    ('vgg13', 'vgg8', 0.05, 0.05),             # ... but not for VGG students
    ('resnet32x4', 'ShuffleV1', 0.01, 0.01),   # lightweight: the student's 0.01
])
def test_init_stages_train_at_repdistillers_pretrain_rates(teacher, student, ab_fsp, ft):
  """RepDistiller's helper/pretrain.py: constant SGD at the student's rate
  (momentum 0.9, L2 5e-4), 0.01 for FT with its ResNet/WRN students."""
  config = config_lib.cifar100_benchmark(teacher, student)
  for key, rate in (('ab', ab_fsp), ('fsp', ab_fsp), ('ft', ft)):
    stage = config[key].init_optimizer
    assert (stage.name, stage.learning_rate, stage.momentum, stage.weight_decay,
            stage.schedule) == ('sgd', rate, 0.9, 5e-4, 'constant'), key


def test_channel_shuffle_is_pytorchs():
  """view(N, g, C/g, H, W) -> transpose(1, 2) -> flatten, on NCHW."""
  from kdjax.models import shufflenet  # pylint: disable=g-import-not-at-top
  x = jnp.arange(2 * 6).reshape(1, 1, 2, 6).astype(jnp.float32)  # [B, H, W, C]
  got = shufflenet.channel_shuffle(x, 3)
  # groups of 2 channels (0 1 | 2 3 | 4 5) interleave: 0 2 4 1 3 5
  np.testing.assert_array_equal(got[0, 0, 0], [0, 2, 4, 1, 3, 5])


@SLOW
@pytest.mark.parametrize('pair', ['-'.join(p) for p in benchmark.PAIRS if p != ('vgg13', 'vgg8')])
def test_every_pair_runs_in_its_runlocal_form(pair, tmp_path):
  _runlocal(tmp_path, pair)
