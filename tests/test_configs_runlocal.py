"""Every CIFAR-10 config runs end to end in its `runlocal` form (synthetic images).

The ResNet-34/MobileNetV2 configs take minutes on a CPU even shrunk; they run
only with KDJAX_SLOW_TESTS=1 (their models' sizes and features are tested in
test_models.py either way).
"""

import os

import pytest

from kdjax import grid
from kdjax import sweep
from kdjax import train
from tests.conftest import REPO, load_config, write_image_folder

SLOW = pytest.mark.skipif(not os.environ.get('KDJAX_SLOW_TESTS'),
                          reason='set KDJAX_SLOW_TESTS=1 (minutes on a CPU)')


@pytest.fixture(scope='module')
def images(tmp_path_factory):
  return write_image_folder(str(tmp_path_factory.mktemp('cifar')), per_class=(7, 7))


def run(study, row, images, workdir, teacher=None):
  config = load_config(os.path.join(REPO, 'configs', study, f'{row}.py'))
  config.runlocal = True
  config.dataset.data_dir = images
  if teacher:
    config.teacher.workdir = teacher
  return train.train_and_evaluate(config, workdir)


@pytest.fixture(scope='module')
def cnn_teacher(images, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('cnn_teacher'))
  metrics = run('cifar10_cnn', 'teacher', images, workdir)
  assert metrics['params'] == 4_576_394 and metrics['test']['count'] == 64
  return workdir


# The rows that share a program (experiments/run_method_table.sh trains them
# so), and those that train in stages, alone.
SHARED = ('student', 'kd', 'rkd', 'dkd', 'at', 'dist_ls', 'mlkd', 'ctkd', 'sp', 'pkt', 'nst',
          'vid', 'cc', 'crd', 'kdsvd', 'reviewkd')
TERMS = ('sp', 'pkt', 'nst', 'vid', 'cc', 'crd', 'kdsvd', 'reviewkd', 'ft')


def _check_row(row, metrics):
  assert metrics['params'] == (83_450 if row == 'fitnet' else 1_070_794)
  assert metrics['epochs'] == 1
  if row == 'fitnet':
    assert len(metrics['stage1_history']) == 1
  if row == 'ab':
    assert len(metrics['init_history']) == 1 and metrics['init_history'][0]['train_ab'] > 0
  if row == 'ctkd':
    assert 1 < metrics['method_parts']['temperature'] < 21
  if row == 'vid':
    assert set(metrics['method_parts']) == {'variance_0', 'variance_1'}
  if row in TERMS:  # the objective's terms sum to the loss
    last = metrics['history'][-1]
    assert last['train_ce'] + last[f'train_{row}'] == pytest.approx(last['train_loss'], rel=1e-5)


@pytest.mark.parametrize('row', ['fitnet', 'ab', 'ft', 'crd'])  # crd: a shared row alone too
def test_cifar10_cnn_rows_that_train_in_stages(row, images, cnn_teacher, tmp_path):
  _check_row(row, run('cifar10_cnn', row, images, str(tmp_path), cnn_teacher))


def test_cifar10_cnn_rows_as_one_program(images, cnn_teacher, tmp_path):
  """Every other row's own config, all in one program (experiments/sweeps/rows.py)."""
  spec = sweep.get_sweep_file(os.path.join(REPO, 'experiments', 'sweeps', 'rows.py') +
                              ':cifar10_cnn:' + '+'.join(SHARED))
  spec['points'] = [{**p, 'config': os.path.join(REPO, p['config'])} for p in spec['points']]
  spec['set'] = {'runlocal': True, 'dataset.data_dir': images, 'teacher.workdir': cnn_teacher}
  names, configs = zip(*[(n, sweep.point_config(spec, o)) for n, o in sweep.points(spec)])
  assert names == SHARED
  results = grid.train_grid(list(configs), [str(tmp_path / n) for n in names],
                            str(tmp_path / 'grid'))
  for row, metrics in zip(names, results):
    assert metrics['grid']['students'] == len(SHARED)
    _check_row(row, metrics)


def run_ablation(sweep_file, images, teacher, workdir, points=None):
  """The sweep's grid of students (its first `points` settings) in runlocal
  form, as one program; checks first that the sweep has the study's 10."""
  spec = sweep.get_sweep_file(os.path.join(REPO, 'experiments', 'sweeps', sweep_file))
  settings = {(p['distill.temperature'], p['distill.alpha']) for p in spec['points']}
  assert settings == {(4.0, 1.0), (1.0, 0.3), (2.0, 0.3), (4.0, 0.3), (8.0, 0.3),
                      (16.0, 0.3), (4.0, 0.1), (4.0, 0.5), (4.0, 0.7), (4.0, 0.9)}
  spec['points'] = spec['points'][:points]
  spec['config'] = os.path.join(REPO, spec['config'])
  spec['set'] = {'runlocal': True, 'dataset.data_dir': images, 'teacher.workdir': teacher}
  names, configs = zip(*[(n, sweep.point_config(spec, o)) for n, o in sweep.points(spec)])
  return grid.train_grid(list(configs), [os.path.join(workdir, n) for n in names],
                         os.path.join(workdir, 'grid'))


def test_cnn_ablation_teacher_and_grid(images, tmp_path):
  """Issue 12's CNN-pair protocol: the ResNet study's recipe, 10 students."""
  teacher = str(tmp_path / 'teacher')
  metrics = run('cifar10_cnn_ablation', 'teacher', images, teacher)
  assert metrics['params'] == 4_576_394
  # Three of the 10 students (the baseline first) keep the test short.
  students = run_ablation('cnn_ablation.py', images, teacher, str(tmp_path / 'grid'), 3)
  assert len(students) == 3 and {m['params'] for m in students} == {1_070_794}
  assert {m['grid']['students'] for m in students} == {3}


@SLOW
def test_cifar10_resnet_ablation_grid(images, tmp_path):
  teacher = str(tmp_path / 'teacher')
  run('cifar10_resnet', 'teacher', images, teacher)
  students = run_ablation('resnet_ablation.py', images, teacher, str(tmp_path / 'grid'))
  assert len(students) == 10 and {m['params'] for m in students} == {2_236_682}


@SLOW
def test_cifar10_resnet_rows(images, tmp_path):
  teacher = str(tmp_path / 'teacher')
  assert run('cifar10_resnet', 'teacher', images, teacher)['params'] == 21_282_122
  for row in ('student', 'kd_t4_a03', 'kd_t16_a03', 'kd_t4_a05'):
    metrics = run('cifar10_resnet', row, images, str(tmp_path / row), teacher)
    assert metrics['params'] == 2_236_682


def test_fitnet_layers_whose_shapes_cannot_be_matched(images, cnn_teacher, tmp_path):
  from kdjax import errors
  config = load_config(os.path.join(REPO, 'configs', 'cifar10_cnn', 'fitnet.py'))
  config.runlocal = True
  config.dataset.data_dir = images
  config.teacher.workdir = cnn_teacher
  config.fitnet.guided_layer = 'conv_0'  # 32x32 maps; the hint 'block_0' is 16x16
  with pytest.raises(errors.ConfigError,
                     match=r"fitnet.guided_layer='conv_0' has shape \(32, 32, 32\), "
                           r"fitnet.hint_layer='block_0' has \(16, 16, 64\)"):
    train.train_and_evaluate(config, str(tmp_path))
