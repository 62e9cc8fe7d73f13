"""The feature-distillation methods sp.py, pkt.py and nst.py against numpy
written here from the papers' formulas with the reference code's reductions
(RepDistiller's distiller_zoo SP.py, PKT.py, NST.py), in float64; their
gradients against finite differences of that numpy; the shipped CIFAR-10
CNN configs' features; refusals of bad settings in one line."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import methods
from kdjax import models
from kdjax import train
from kdjax.methods import nst
from kdjax.methods import pairs
from kdjax.methods import pkt
from kdjax.methods import sp
from tests.conftest import REPO, load_config

RNG = np.random.default_rng(7)
f32 = lambda a: jnp.asarray(a, jnp.float32)
LOGITS = RNG.normal(size=(4, 5)) * 2
LABELS = np.array([0, 3, 1, 4])


def _ce(s, y):
  z = s - s.max(-1, keepdims=True)
  log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
  return -np.mean(log_p[np.arange(len(y)), y])


def _fd_check(grad, reference, x, points, rtol=3e-3, atol=1e-7, eps=1e-5):
  """grad (of the float32 loss) at `points` against central differences of
  the float64 `reference` at x."""
  for index in points:
    bump = np.zeros_like(x)
    bump[index] = eps
    numeric = (reference(x + bump) - reference(x - bump)) / (2 * eps)
    np.testing.assert_allclose(grad[index], numeric, rtol=rtol, atol=atol)


# --- SP ------------------------------------------------------------------------

def np_sp(s, t):
  """Tung & Mori: G = Q Q^T with rows L2-normalised (F.normalize's
  max(|x|, 1e-12)), |G_t - G_s|_F^2 / B^2."""
  def g(a):
    q = a.reshape(len(a), -1)
    gram = q @ q.T
    return gram / np.maximum(np.linalg.norm(gram, axis=1, keepdims=True), 1e-12)
  return np.sum((g(t) - g(s)) ** 2) / len(s) ** 2


def test_sp_matches_the_paper():
  # A pair of maps of different size and channels, and a map with a vector:
  # the [B, B] similarities need only the batch.
  for s_shape, t_shape in (((4, 3, 3, 2), (4, 3, 3, 5)), ((4, 4, 4, 3), (4, 2, 2, 6)),
                           ((4, 2, 2, 3), (4, 7))):
    s, t = RNG.normal(size=s_shape), RNG.normal(size=t_shape)
    np.testing.assert_allclose(sp.sp_loss(f32(s), f32(t)), np_sp(s, t), rtol=1e-5)
  # Row normalisation: scaling the student's features changes nothing.
  np.testing.assert_allclose(sp.sp_loss(f32(7 * s), f32(t)), np_sp(s, t), rtol=1e-5)
  assert float(sp.sp_loss(f32(s), f32(s))) == 0


@pytest.mark.parametrize('name,weight', [('sp', 3000.0), ('nst', 50.0)])
def test_pair_objectives_weigh_the_sum_over_pairs_and_return_their_terms(name, weight):
  module, np_loss = {'sp': (sp, np_sp), 'nst': (nst, np_nst)}[name]
  s = {'a': RNG.normal(size=(4, 4, 4, 2)), 'b': RNG.normal(size=(4, 2, 2, 3))}
  t = {'x': RNG.normal(size=(4, 4, 4, 3)), 'y': RNG.normal(size=(4, 1, 1, 4))}
  if name == 'sp':  # any features [B, ...]: a vector with a map
    s['b'] = RNG.normal(size=(4, 6))
  total, terms = module.loss((f32(LOGITS), {k: f32(v) for k, v in s.items()}),
                             (None, {k: f32(v) for k, v in t.items()}), LABELS,
                             {'weight': jnp.float32(weight)}, pairs=(('a', 'x'), ('b', 'y')))
  assert set(terms) == {'ce', name}
  np.testing.assert_allclose(terms['ce'], _ce(LOGITS, LABELS), rtol=1e-5)
  np.testing.assert_allclose(
      terms[name], weight * (np_loss(s['a'], t['x']) + np_loss(s['b'], t['y'])), rtol=1e-5)
  np.testing.assert_allclose(total, terms['ce'] + terms[name], rtol=1e-6)


def test_sp_gradient_matches_finite_differences():
  s, t = RNG.normal(size=(3, 2, 2, 3)), RNG.normal(size=(3, 2, 2, 4))
  grad = np.asarray(jax.grad(sp.sp_loss)(f32(s), f32(t)))
  _fd_check(grad, lambda x: np_sp(x, t), s, ((0, 0, 0, 0), (1, 1, 0, 2), (2, 1, 1, 1)))
  assert not np.any(np.asarray(jax.grad(lambda t: sp.sp_loss(f32(s), t))(f32(t))))
  # An example whose features are all zero (dead ReLUs): finite gradients.
  dead = s.copy()
  dead[1] = 0
  assert np.isfinite(np.asarray(jax.grad(sp.sp_loss)(f32(dead), f32(t)))).all()


# --- PKT -----------------------------------------------------------------------

def np_pkt(s, t, eps=1e-7):
  """Passalis & Tefas's cosine kernel (cos + 1) / 2, each row normalised to
  p_(j|i), KL(teacher || student) as the reference averages it: the mean over
  the B x B entries (diagonal kept) with eps in the logarithm; norms |x| + eps."""
  def p(a):
    a = a.reshape(len(a), -1)
    a = a / (np.sqrt(np.sum(a**2, axis=1, keepdims=True)) + eps)
    k = (a @ a.T + 1) / 2
    return k / k.sum(axis=1, keepdims=True)
  pt, ps = p(t), p(s)
  return np.mean(pt * np.log((pt + eps) / (ps + eps)))


def test_pkt_matches_the_reference_formula():
  s, t = RNG.normal(size=(6, 5)), RNG.normal(size=(6, 9))
  np.testing.assert_allclose(pkt.pkt_loss(f32(s), f32(t)), np_pkt(s, t), rtol=1e-5)
  # Post-ReLU embeddings (all cosines >= 0) and one all-zero embedding, whose
  # cosines are 0: the reference's values.
  s, t = np.maximum(s, 0), np.maximum(t, 0)
  s[2] = 0
  np.testing.assert_allclose(pkt.pkt_loss(f32(s), f32(t)), np_pkt(s, t), rtol=1e-5)
  probabilities = np.asarray(pkt.conditional_probabilities(f32(s)))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
  assert abs(float(pkt.pkt_loss(f32(t), f32(t)))) < 1e-7


def test_pkt_objective_reads_the_embeddings_and_returns_its_terms():
  s, t = RNG.normal(size=(4, 6)), RNG.normal(size=(4, 10))
  total, terms = pkt.loss((f32(LOGITS), {'embedding': f32(s)}),
                          (None, {'embedding': f32(t)}), LABELS, {'weight': jnp.float32(30000.0)})
  assert set(terms) == {'ce', 'pkt'}
  np.testing.assert_allclose(terms['ce'], _ce(LOGITS, LABELS), rtol=1e-5)
  np.testing.assert_allclose(terms['pkt'], 30000.0 * np_pkt(s, t), rtol=1e-5)
  np.testing.assert_allclose(total, terms['ce'] + terms['pkt'], rtol=1e-6)
  assert pkt.METHOD.features(None, {}) == (('embedding',), ('embedding',))


def test_pkt_gradient_matches_finite_differences():
  s, t = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 6))
  grad = np.asarray(jax.grad(pkt.pkt_loss)(f32(s), f32(t)))
  _fd_check(grad, lambda x: np_pkt(x, t), s, ((0, 0), (2, 3), (4, 1), (3, 2)), atol=1e-6)
  assert not np.any(np.asarray(jax.grad(lambda t: pkt.pkt_loss(f32(s), t))(f32(t))))
  # An all-zero embedding: the reference's sqrt(0) has no gradient; here it is finite.
  dead = s.copy()
  dead[1] = 0
  assert np.isfinite(np.asarray(jax.grad(pkt.pkt_loss)(f32(dead), f32(t)))).all()


# --- NST -----------------------------------------------------------------------

def np_adaptive_avg_pool(x, height, width):
  """torch.nn.functional.adaptive_avg_pool2d on NHWC: output cell (i, j)
  averages rows floor(i H / h) .. ceil((i + 1) H / h) - 1, likewise columns."""
  _, big_h, big_w, _ = x.shape
  out = np.zeros((x.shape[0], height, width, x.shape[3]))
  for i in range(height):
    for j in range(width):
      rows = slice(math.floor(i * big_h / height), math.ceil((i + 1) * big_h / height))
      cols = slice(math.floor(j * big_w / width), math.ceil((j + 1) * big_w / width))
      out[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
  return out


def np_nst(s, t):
  """Huang & Wang: the larger map average-pooled to the smaller (RepDistiller),
  each channel's map over the positions L2-normalised, polynomial kernel
  k(x, y) = (x^T y)^2, MMD^2 = mean k(t, t) + mean k(s, s) - 2 mean k(s, t)
  over the channel pairs, averaged over the batch."""
  h, w = min(s.shape[1], t.shape[1]), min(s.shape[2], t.shape[2])
  s, t = np_adaptive_avg_pool(s, h, w), np_adaptive_avg_pool(t, h, w)
  total = 0.0
  for b in range(len(s)):
    fs = s[b].reshape(h * w, -1).T  # [C_s, H*W]
    ft = t[b].reshape(h * w, -1).T
    fs = fs / np.maximum(np.linalg.norm(fs, axis=1, keepdims=True), 1e-12)
    ft = ft / np.maximum(np.linalg.norm(ft, axis=1, keepdims=True), 1e-12)
    k = lambda a, c: np.mean([(a[i] @ c[j]) ** 2 for i in range(len(a)) for j in range(len(c))])
    total += k(ft, ft) + k(fs, fs) - 2 * k(fs, ft)
  return total / len(s)


@pytest.mark.parametrize('shape,size', [((2, 4, 4, 3), (2, 2)), ((2, 6, 4, 2), (3, 2)),
                                        ((1, 3, 3, 1), (3, 3)), ((1, 8, 8, 2), (2, 4))])
def test_pooling_has_torchs_adaptive_windows_where_sizes_divide(shape, size):
  x = RNG.normal(size=shape)
  np.testing.assert_allclose(pairs.pool_to(f32(x), size), np_adaptive_avg_pool(x, *size),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('s_shape,t_shape', [((2, 3, 3, 4), (2, 3, 3, 6)),
                                             ((2, 4, 4, 3), (2, 2, 2, 5)),   # student pooled
                                             ((2, 3, 3, 2), (2, 6, 6, 3))])  # teacher pooled
def test_nst_matches_the_paper_and_reference_pooling(s_shape, t_shape):
  s, t = RNG.normal(size=s_shape), RNG.normal(size=t_shape)
  np.testing.assert_allclose(nst.nst_loss(f32(s), f32(t)), np_nst(s, t), rtol=1e-5, atol=1e-7)


def test_nst_is_zero_for_equal_selectivities_and_scale_free():
  s = RNG.normal(size=(2, 3, 3, 4))
  assert abs(float(nst.nst_loss(f32(s), f32(s)))) < 1e-6
  # The same channels in another order and scale: the same distribution.
  assert abs(float(nst.nst_loss(f32(s), f32(3 * s[..., ::-1])))) < 1e-6
  t = RNG.normal(size=(2, 3, 3, 5))
  np.testing.assert_allclose(nst.nst_loss(f32(5 * s), f32(t)), np_nst(s, t), rtol=1e-5)


def test_nst_gradient_matches_finite_differences_through_the_pooling():
  s, t = RNG.normal(size=(2, 4, 4, 3)), RNG.normal(size=(2, 2, 2, 4))
  grad = np.asarray(jax.grad(nst.nst_loss)(f32(s), f32(t)))
  _fd_check(grad, lambda x: np_nst(x, t), s, ((0, 0, 0, 0), (1, 3, 2, 1), (0, 1, 3, 2)),
            atol=1e-6)
  assert not np.any(np.asarray(jax.grad(lambda t: nst.nst_loss(f32(s), t))(f32(t))))
  # A dead channel (all zeros): finite gradients, as F.normalize's clamp gives.
  dead = s.copy()
  dead[..., 1] = 0
  assert np.isfinite(np.asarray(jax.grad(nst.nst_loss)(f32(dead), f32(t)))).all()


# --- configs, features and refusals ---------------------------------------------

def _shipped(method):
  config = load_config(os.path.join(REPO, 'configs', 'cifar10_cnn', f'{method}.py'))
  config.teacher.workdir = '/some/teacher'
  return config


def _check_features(config):
  """train.check_features on the config's models (shapes only, 32x32x3 images)."""
  student = models.create(config.model, 10)
  teacher = models.create(config.teacher.model, 10)
  train.check_features(config, methods.get(config.method), student, teacher, (32, 32, 3))


@pytest.mark.parametrize('method,weight,pairs', [
    ('sp', 3000.0, ('block_1:block_1',)),
    ('pkt', 30000.0, None),
    ('nst', 50.0, ('block_0:block_0', 'block_1:block_1')),
])
def test_shipped_cifar10_cnn_configs_are_the_reference_settings(method, weight, pairs):
  config = _shipped(method)
  config_lib.validate(config)
  assert config[method].weight == weight
  if pairs is not None:
    assert tuple(config[method].pairs) == pairs
  _check_features(config)
  assert methods.get(method).hparams_of(config) == {'weight': np.float32(weight)}


@pytest.mark.parametrize('key,value,match', [
    ('sp.weight', -1.0, r'^sp.weight=-1.0 is invalid; expected a finite number >= 0$'),
    ('sp.weight', float('nan'), r'^sp.weight=nan is invalid; expected a finite number >= 0$'),
    ('pkt.weight', float('inf'), r'^pkt.weight=inf is invalid; expected a finite number >= 0$'),
    ('pkt.weight', float('nan'), r'^pkt.weight=nan is invalid'),
    ('nst.weight', float('nan'), r'^nst.weight=nan is invalid; expected a finite number >= 0$'),
    ('nst.weight', -50.0, r'^nst.weight=-50.0 is invalid'),
    ('sp.pairs', ('block_1',), r"^sp.pairs=\('block_1',\) is invalid; expected a tuple of "
     r"'student_feature:teacher_feature' strings$"),
    ('nst.pairs', (0,), r"^nst.pairs=\(0,\) is invalid; expected a tuple of 'student_feature:"),
    ('nst.pairs', ('block_0::block_0',), r'^nst.pairs=.* is invalid'),
])
def test_bad_settings_refuse_in_one_line(key, value, match):
  config = _shipped(key.split('.')[0])
  section, leaf = key.split('.')
  config[section][leaf] = value
  with pytest.raises(errors.ConfigError, match=match) as caught:
    config_lib.validate(config)
  assert '\n' not in str(caught.value)


@pytest.mark.parametrize('method,pairs,match', [
    ('sp', (), r"^sp.pairs=\(\) names no layers; expected 'student:teacher' pairs from the "
     r"student features \[.*'block_1'.*\] and the teacher features"),
    ('sp', ('conv_9:block_1',), "reads the student feature 'conv_9'"),
    ('nst', (), r'^nst.pairs=\(\) names no stages; expected .*student maps'),
    ('nst', ('embedding:block_0',), r"^nst.pairs entry 'embedding:block_0' does not name a "
     'student feature map; expected maps of sizes one of which divides the other from the '
     'student maps'),
    ('nst', ('block_0:dense_0',), "does not name a teacher feature map"),
])
def test_pairs_the_models_cannot_serve_refuse_in_one_line(method, pairs, match):
  config = _shipped(method)
  config[method].pairs = pairs
  with pytest.raises(errors.ConfigError, match=match) as caught:
    _check_features(config)
  assert '\n' not in str(caught.value)


def test_sp_pairs_any_features_and_nst_pools_maps_of_different_size():
  config = _shipped('sp')
  config.sp.pairs = ('block_1:block_2', 'embedding:dense_0')  # 8x8 with 4x4; vectors
  _check_features(config)
  config = _shipped('nst')
  config.nst.pairs = ('block_1:block_2', 'conv_0:block_0')  # 8x8 with 4x4, 32x32 with 16x16
  _check_features(config)


def test_nst_refuses_maps_whose_sizes_do_not_divide():
  """The reference pools those with overlapping windows; kdjax refuses them."""
  config = _shipped('nst')
  config.nst.pairs = ('a:x',)
  shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
  with pytest.raises(errors.ConfigError, match=r"^nst.pairs entry 'a:x' pairs \(6, 6\) with "
                     r'\(4, 4\) \(height, width\); expected maps of sizes one of which divides'):
    nst.METHOD.check_features(config, {'a': shape(1, 6, 6, 3)}, {'x': shape(1, 4, 4, 5)})
  nst.METHOD.check_features(config, {'a': shape(1, 8, 8, 3)}, {'x': shape(1, 4, 4, 5)})


def test_nst_refuses_models_without_feature_maps():
  config = _shipped('nst')
  config.model = config_lib.get_base_config().model  # the MLP
  config.nst.pairs = ('hidden_0:block_0',)
  student = models.create(config.model, 10)
  teacher = models.create(config.teacher.model, 10)
  with pytest.raises(errors.ConfigError, match=r'^method=nst needs spatial feature maps '
                     r'\[B, H, W, C\] in both models; the student \(mlp\) has none'):
    train.check_features(config, nst.METHOD, student, teacher, (32, 32, 3))


# --- FSP -----------------------------------------------------------------------

def np_fsp_matrix(bottom, top):
  """Paper eq. 1 on NHWC, with RepDistiller's adaptive pooling of the larger map."""
  size = min(bottom.shape[1], top.shape[1])
  bottom = np_adaptive_avg_pool(bottom, size, size)
  top = np_adaptive_avg_pool(top, size, size)
  g = np.zeros((bottom.shape[0], top.shape[3], bottom.shape[3]))
  for b in range(bottom.shape[0]):
    for j in range(top.shape[3]):
      for i in range(bottom.shape[3]):
        g[b, j, i] = np.sum(bottom[b, :, :, i] * top[b, :, :, j]) / (size * size)
  return g


def np_fsp(s_maps, t_maps):
  return sum(np.mean((np_fsp_matrix(s_maps[i], s_maps[i + 1])
                      - np_fsp_matrix(t_maps[i], t_maps[i + 1])) ** 2)
             for i in range(len(s_maps) - 1))


FSP_SHAPES = [(3, 8, 8, 4), (3, 4, 4, 5), (3, 4, 4, 6)]


def test_fsp_matches_the_paper_with_the_references_pooling():
  from kdjax.methods import fsp  # pylint: disable=g-import-not-at-top
  s = [RNG.normal(size=shape) for shape in FSP_SHAPES]
  t = [RNG.normal(size=(3, 2 * shape[1], 2 * shape[2], shape[3])) for shape in FSP_SHAPES]
  got = fsp.fsp_loss([f32(x) for x in s], [f32(x) for x in t])
  np.testing.assert_allclose(float(got), np_fsp(s, t), rtol=1e-5)
  assert float(fsp.fsp_loss([f32(x) for x in s], [f32(x) for x in s])) == 0.0


def test_fsp_gradient_matches_finite_differences():
  from kdjax.methods import fsp  # pylint: disable=g-import-not-at-top
  s = [RNG.normal(size=shape) for shape in FSP_SHAPES[:2]]
  t = [RNG.normal(size=shape) for shape in FSP_SHAPES[:2]]
  grad = np.asarray(jax.grad(lambda x: fsp.fsp_loss([f32(x), f32(s[1])],
                                                    [f32(v) for v in t]))(f32(s[0])))
  _fd_check(grad, lambda x: np_fsp([x, s[1]], t), s[0],
            [(0, 0, 0, 0), (1, 3, 5, 2), (2, 7, 7, 3)])


def test_fsp_initialises_then_trains_by_cross_entropy(tmp_path):
  """The init stage trains the student's feature layers on L_FSP alone (its
  head untouched), then the main run is plain cross-entropy."""
  from tests.test_methods import _cnn_pair  # pylint: disable=g-import-not-at-top
  config = _cnn_pair(tmp_path)
  config.method = 'fsp'
  config.model = config_lib.cnn((8, 8), dense=(8,))  # channels as the teacher's convs
  config.fsp.pairs = ('conv_0:conv_0', 'block_0:block_0', 'conv_1:conv_1')
  config.fsp.init_epochs = 2
  metrics = train.train_and_evaluate(config, str(tmp_path / 'fsp'))
  init = metrics['init_history']
  assert len(init) == 2 and init[-1]['train_fsp'] < init[0]['train_fsp']
  assert {'train_ce'} <= set(metrics['history'][-1]) and metrics['epochs'] == 1
  config.fsp.pairs = ('conv_0:conv_0',)
  with pytest.raises(errors.ConfigError, match='names 1 layer'):
    train.train_and_evaluate(config, str(tmp_path / 'one'))
  config.model = config_lib.cnn((4, 8), dense=(8,))
  config.fsp.pairs = ('conv_0:conv_0', 'conv_1:conv_1')
  with pytest.raises(errors.ConfigError, match='pairs 4 channels with 8'):
    train.train_and_evaluate(config, str(tmp_path / 'channels'))
