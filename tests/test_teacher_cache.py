"""The teacher-output cache: variant encoding, table = teacher, same run."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import models
from kdjax import outputs
from kdjax import steps
from kdjax import teacher_cache
from kdjax import train
from kdjax.data import augment


@pytest.mark.parametrize('translate,flip', [(0, True), (2, False), (1, True)])
def test_variant_is_the_shift_and_mirror_written_out(translate, flip):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (6, 5, 4, 2), dtype=np.uint8)
  count = augment.num_variants(translate=translate, flip=flip)
  assert count == (2 * translate + 1) ** 2 * (2 if flip else 1)
  for v in range(count):
    got = np.asarray(augment.apply(jnp.asarray(images), jnp.full((6,), v),
                                   translate=translate, flip=flip))
    mirror, cell = (v % 2, v // 2) if flip else (0, v)
    dy, dx = cell // (2 * translate + 1) - translate, cell % (2 * translate + 1) - translate
    want = np.zeros_like(images)  # want[y, x] = images[y + dy, x + dx], 0 outside
    for y in range(5):
      for x in range(4):
        if 0 <= y + dy < 5 and 0 <= x + dx < 4:
          want[:, y, x] = images[:, y + dy, x + dx]
    if mirror:
      want = want[:, :, ::-1]
    np.testing.assert_array_equal(got, want, err_msg=f'variant {v}')


def test_drawn_variants_cover_the_set_uniformly():
  v = np.asarray(augment.variants(jax.random.PRNGKey(0), 36_000, translate=1, flip=True))
  counts = np.bincount(v, minlength=18)
  assert len(counts) == 18 and counts.min() > 1800 and counts.max() < 2200


def _cnn_teacher():
  teacher = models.create(config_lib.cnn((8, 16), dense=(32,), dropout=0.3), 10)
  variables = models.init(teacher, jax.random.PRNGKey(1), (8, 8, 3))
  return teacher, variables


def test_table_holds_what_the_step_would_compute():
  """The gathered outputs equal a teacher forward on the augmented batch (up to
  the rounding of a differently fused program: measured max |diff| below)."""
  teacher, variables = _cnn_teacher()
  images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
  mean, std = (0.5,) * 3, (0.25,) * 3
  kw = dict(translate=1, flip=True, mean=mean, std=std)
  outputs = ('block_0', 'embedding', 'logits')  # a feature map [B, 4, 4, 8] too
  table = teacher_cache.build(teacher, variables, images, outputs=outputs,
                              batch_size=16, **kw)
  spec = lambda t: steps.Step(model=None, tx=None, objective=None, teacher=t,
                              augmentation=steps.Augmentation(**kw))
  assert table['logits'].shape == (40, 18, 10)
  assert table['embedding'].shape == (40, 18, 32)
  idx = jnp.arange(3, 19)
  batch = (jnp.asarray(images)[idx], jnp.zeros(16, jnp.int32), idx)
  rng = jax.random.PRNGKey(7)
  inputs = jax.jit(spec(teacher).inputs)
  cached = jax.jit(spec(teacher_cache.CachedTeacher(
      outputs, teacher_cache.output_shapes(teacher, (8, 8, 3), outputs))).inputs)
  x, (logits, features) = (lambda i: (i.x, i.teacher_out))(inputs(batch, rng, variables))
  x2, (logits2, features2) = (lambda i: (i.x, i.teacher_out))(cached(batch, rng, table))
  np.testing.assert_array_equal(x, x2)
  np.testing.assert_allclose(logits2, logits, rtol=0, atol=1e-5)
  for name in ('embedding', 'block_0'):  # in the teacher's own shape
    assert features2[name].shape == features[name].shape
    np.testing.assert_allclose(features2[name], features[name], rtol=0, atol=1e-5)


def _plan(**kw):
  args = dict(enabled=True, objective_name='kd', outputs=('logits',),
              num_examples=50_000, epochs=20,
              steps_per_epoch=390, batch_size=128, dims={'logits': 10},
              translate=0, flip=True)
  return teacher_cache.plan(**{**args, **kw})


def test_the_rule():
  assert _plan().use and _plan().bytes == 4 * 50_000 * 2 * 10
  assert not _plan(enabled=False).use
  assert 'reads nothing' in _plan(outputs=()).reason
  # FitNets' 16x16x64 hint maps: 6.5 GB for CIFAR's 50,000 x 2 variants
  assert 'GiB' in _plan(objective_name='hint', outputs=('block_0',),
                        dims={'block_0': 16 * 16 * 64}).reason
  # crop 4 + flip: 162 variants are more forwards than 20 epochs of training
  assert not _plan(translate=4).use and _plan(translate=4, epochs=200).use
  big = _plan(objective_name='rkd', outputs=('embedding',), dims={'embedding': 2**20})
  assert not big.use and 'GiB' in big.reason


def _digits_kd(teacher_dir, cache, method='kd'):
  config = config_lib.get_base_config()
  config.dataset.update(name='digits', translate=0, flip=True)
  config.model = config_lib.mlp((32,))
  config.teacher.model = config_lib.mlp((64,), dropout=0.2)
  config.teacher.workdir = teacher_dir
  config.method = method
  config.distill.update(temperature=4.0, alpha=0.3, teacher_cache=cache)
  config.train.update(epochs=4, batch_size=128, eval_batch_size=120)
  config.latency.update(warmup=1, repeats=2)
  return config


@pytest.fixture(scope='module')
def digits_teacher(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  config = _digits_kd('', False, method='none')
  config.model = config.teacher.model
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.mark.parametrize('method', ['kd', 'rkd'])
def test_run_with_cache_equals_run_without(digits_teacher, tmp_path, method):
  """4 epochs on the digits, flips only (2 variants): the same predictions;
  the logits agree to float rounding (measured: identical here)."""
  logits = {}
  for cache in (False, True):
    workdir = str(tmp_path / f'cache_{cache}')
    metrics = train.train_and_evaluate(_digits_kd(digits_teacher, cache, method),
                                       workdir)
    assert metrics['teacher_cache']['used'] == cache
    logits[cache] = outputs.read_predictions(
        os.path.join(workdir, 'predictions', 'test.npz'))['logits']
  np.testing.assert_array_equal(logits[True].argmax(-1), logits[False].argmax(-1))
  np.testing.assert_allclose(logits[True], logits[False], rtol=0, atol=1e-4)


def test_grid_with_cache_equals_separate_runs_with_cache(digits_teacher, tmp_path):
  """A 2-point KD grid reads one table for both students; each point ends as
  its own cached run would (to float rounding, as grids do)."""
  from kdjax import grid
  configs = []
  for t in (2.0, 8.0):
    config = _digits_kd(digits_teacher, True)
    config.distill.temperature = t
    configs.append(config)
  dirs = [str(tmp_path / f'grid_t{c.distill.temperature}') for c in configs]
  points = grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  for config, workdir, got in zip(configs, dirs, points):
    assert got['teacher_cache']['used']
    alone = str(tmp_path / f'alone_t{config.distill.temperature}')
    train.train_and_evaluate(config, alone)
    np.testing.assert_allclose(
        outputs.read_predictions(os.path.join(workdir, 'predictions', 'test.npz'))['logits'],
        outputs.read_predictions(os.path.join(alone, 'predictions', 'test.npz'))['logits'],
        rtol=0, atol=1e-4)
