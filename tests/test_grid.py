"""A vmapped grid of students == the same points trained as separate runs."""

import os
import re

import numpy as np
import pytest

from kdjax import checkpoint
from kdjax import demo
from kdjax import errors
from kdjax import grid
from kdjax import models
from kdjax import outputs
from kdjax import train


def small(role, **distill):
  config = demo.get_config(role)
  config.teacher.model.hidden = (32,)
  if role == 'teacher':
    config.model.hidden = (32,)
  config.train.update(epochs=2, batch_size=64)
  config.dataset.update(train_subset=256, test_subset=100)
  config.latency.update(warmup=1, repeats=2)
  config.distill.update(distill)
  return config


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  train.train_and_evaluate(small('teacher'), workdir)
  return workdir


SETTINGS = {'kd': ({'temperature': 2.0, 'alpha': 0.1}, {'temperature': 8.0, 'alpha': 0.7}),
            'rkd': ({'rkd_distance_weight': 10.0}, {'rkd_distance_weight': 50.0,
                                                    'rkd_angle_weight': 20.0})}


def kd_points(teacher_dir, method='kd'):
  """2 seeds x 2 settings of `method` (all weights differ between settings)."""
  out = []
  for seed in (0, 1):
    for j, distill in enumerate(SETTINGS[method]):
      config = small('kd', **distill)
      config.method = method
      config.update(seed=seed)
      config.teacher.workdir = teacher_dir
      out.append((f'seed={seed},setting={j}', config))
  return out


@pytest.mark.parametrize('method', ['kd', 'rkd'])
def test_grid_writes_what_separate_runs_write(teacher_dir, tmp_path, method):
  points = kd_points(teacher_dir, method)
  dirs = [str(tmp_path / 'grid' / name) for name, _ in points]
  metrics = grid.train_grid([c for _, c in points], dirs, str(tmp_path / 'grid' / 'grid'))
  # Two opposite corners of the 2 x 2 grid (other seed, other setting) run alone.
  corners = [(p, d, m) for i, (p, d, m) in enumerate(zip(points, dirs, metrics)) if i in (0, 3)]
  for (name, config), workdir, got in corners:
    alone = train.train_and_evaluate(config, str(tmp_path / 'alone' / name))
    for key in ('train_loss', 'test_accuracy'):
      np.testing.assert_allclose([h[key] for h in got['history']],
                                 [h[key] for h in alone['history']], rtol=1e-4)
    a = np.load(os.path.join(workdir, 'predictions', 'test.npz'))
    b = np.load(str(tmp_path / 'alone' / name / 'predictions' / 'test.npz'))
    np.testing.assert_array_equal(a['labels'], b['labels'])
    np.testing.assert_allclose(a['logits'], b['logits'], atol=1e-4)
    assert outputs.read_json(os.path.join(workdir, 'config.json'))['seed'] == config.seed
    assert os.listdir(os.path.join(workdir, 'tensorboard'))
    assert got['grid']['students'] == 4 and got['params'] == alone['params']
    # The point's checkpoint is a finished run: usable as a teacher, say.
    model = models.create(config.model, 10)
    variables, _ = checkpoint.load_variables(workdir, train.variable_shapes(model, (8, 8, 1)))
    assert variables['params']['head']['kernel'].shape == (16, 10)
  assert metrics[0]['history'] != metrics[1]['history']  # the points differ


def test_finished_grid_is_not_retrained(teacher_dir, tmp_path):
  points = kd_points(teacher_dir)
  dirs = [str(tmp_path / name) for name, _ in points]
  first = grid.train_grid([c for _, c in points], dirs, str(tmp_path / 'grid'))
  stamp = os.path.getmtime(os.path.join(dirs[0], 'metrics.json'))
  again = grid.train_grid([c for _, c in points], dirs, str(tmp_path / 'grid'))
  assert again == first and os.path.getmtime(os.path.join(dirs[0], 'metrics.json')) == stamp


def test_grid_refuses_points_that_differ_elsewhere(teacher_dir, tmp_path):
  points = [c for _, c in kd_points(teacher_dir)]
  points[1].train.batch_size = 32
  with pytest.raises(errors.ConfigError, match="grid points differ in 'train.batch_size'"):
    grid.train_grid(points, [str(tmp_path / str(i)) for i in range(4)], str(tmp_path / 'g'))


def test_grid_refuses_an_incomplete_product(teacher_dir, tmp_path):
  points = [c for _, c in kd_points(teacher_dir)][:3]
  with pytest.raises(errors.ConfigError, match='not every .* pair of 2 seeds x 2 settings'):
    grid.train_grid(points, [str(tmp_path / str(i)) for i in range(3)], str(tmp_path / 'g'))


def test_grid_refuses_a_multi_process_launch(teacher_dir, tmp_path, monkeypatch):
  monkeypatch.setenv('SLURM_NTASKS', '2')
  points = [c for _, c in kd_points(teacher_dir)]
  with pytest.raises(errors.ConfigError, match='a grid trains in one process'):
    grid.train_grid(points, [str(tmp_path / str(i)) for i in range(4)], str(tmp_path / 'g'))


def test_a_diverging_grid_names_every_diverged_student(teacher_dir, tmp_path):
  points = kd_points(teacher_dir)
  for _, config in points:
    config.optimizer.update(name='sgd', learning_rate=1e6)
  dirs = [str(tmp_path / name) for name, _ in points]
  with pytest.raises(errors.TrainingDiverged) as raised:
    grid.train_grid([c for _, c in points], dirs, str(tmp_path / 'grid'))
  message = str(raised.value)
  assert re.search(r'in grid epoch \d \(steps \d+-\d+\) of 4 of 4 students: ', message)
  assert all(repr(d) in message for d in dirs)


def test_a_killed_grid_refuses_to_resume_with_its_points_moved(teacher_dir, tmp_path):
  """A grid's checkpoint stacks the students by cell: resumed with another
  set of points, states would go to the wrong students, so it refuses."""
  points = kd_points(teacher_dir)
  configs = [c for _, c in points]
  for c in configs:
    c.train.epochs = 1
  dirs = [str(tmp_path / name) for name, _ in points]
  grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  assert outputs.read_json(str(tmp_path / 'grid' / 'layout.json'))['cells'] == [
      os.path.join('..', name) for name, _ in points]
  for d in dirs:  # as if killed before the points' outputs were written
    os.remove(os.path.join(d, 'metrics.json'))
  renamed = [str(tmp_path / f'other{i}') for i in range(4)]
  with pytest.raises(errors.ConfigError, match=r"cell 0 trains '\.\./seed=0,setting=0'"):
    grid.train_grid(configs, renamed, str(tmp_path / 'grid'))
