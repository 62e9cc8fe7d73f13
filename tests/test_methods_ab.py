"""Activation-boundary distillation (issue 28): the loss against numpy of
RepDistiller's ABLoss, finite differences, the connectors' shapes and
batch normalisation, the initialisation stage and its refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import models
from kdjax import train
from kdjax.methods import ab
from kdjax.methods import pairs
from kdjax.models import benchmark
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(2019)


def np_ab(sources, targets, margin=1.0):
  """RepDistiller's ABLoss summed: w_i = 2^(i - n + 1), each pair's
  criterion_alternative_l2 / bsz / 1000 * 3."""
  n, bsz = len(sources), sources[0].shape[0]
  total = 0.0
  for i, (s, t) in enumerate(zip(sources, targets)):
    loss = ((s + margin) ** 2 * ((s > -margin) & (t <= 0)) +
            (s - margin) ** 2 * ((s <= margin) & (t > 0)))
    total += 2.0 ** (i - n + 1) * np.abs(loss).sum() / bsz / 1000 * 3
  return total


def _maps():
  shapes = [(4, 6, 6, 3), (4, 3, 3, 5)]
  return ([RNG.normal(size=s) * 1.5 for s in shapes], [RNG.normal(size=s) for s in shapes])


def test_loss_matches_the_reference_formula():
  s, t = _maps()
  for margin in (1.0, 0.5):
    got = float(ab.ab_loss([jnp.asarray(x, jnp.float32) for x in s],
                           [jnp.asarray(x, jnp.float32) for x in t], margin))
    np.testing.assert_allclose(got, np_ab(s, t, margin), rtol=1e-5)


def test_gradient_matches_finite_differences():
  s, t = _maps()
  grad = np.asarray(jax.grad(lambda x: ab.ab_loss(
      [x, jnp.asarray(s[1], jnp.float32)], [jnp.asarray(v, jnp.float32) for v in t], 1.0))(
          jnp.asarray(s[0], jnp.float32)))
  for index in ((0, 0, 0, 0), (1, 2, 3, 1), (3, 5, 5, 2), (2, 1, 4, 0)):
    bump = np.zeros_like(s[0])
    bump[index] = 1e-6
    numeric = (np_ab([s[0] + bump, s[1]], t) - np_ab([s[0] - bump, s[1]], t)) / 2e-6
    np.testing.assert_allclose(grad[index], numeric, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize('student,teacher,conv', [
    ((8, 8, 4), (8, 8, 4), None),  # channels and height agree: no connector
    ((8, 8, 4), (8, 8, 6), (1, 1, 4, 6)),  # the same size: a 1x1 conv
    ((8, 8, 4), (4, 4, 6), (3, 3, 4, 6)),  # twice the height: 3x3, stride 2
    ((4, 4, 4), (8, 8, 6), (4, 4, 6, 4)),  # half: a 4x4 transposed conv, stride 2
    ((8, 8, 4), (6, 6, 6), (3, 3, 4, 6)),  # larger: a (1 + dH) x (1 + dW) conv
])
def test_connectors_map_to_the_teachers_shape_and_normalise(student, teacher, conv):
  module = ab.Connectors((('s', 't'),), (teacher,), 'torch')
  x = {'s': jnp.asarray(RNG.normal(size=(5,) + student) * 3 + 1, jnp.float32)}
  variables = module.init(jax.random.PRNGKey(0), x)
  out = np.asarray(module.apply(variables, x)['pair_0'])
  assert out.shape == (5,) + teacher
  if conv is None:
    np.testing.assert_array_equal(out, x['s'])
    return
  assert variables['params']['conv_0']['kernel'].shape == conv
  np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)  # batch statistics
  np.testing.assert_allclose(out.var(axis=(0, 1, 2)), 1, rtol=1e-3)


def test_the_transposed_connector_is_torchs_conv_transpose2d():
  """ConvTranspose2d(c, C, 4, stride=2, padding=1), weight [in, out, kh, kw]."""
  torch = pytest.importorskip('torch')
  module = ab.Connectors((('s', 't'),), ((8, 8, 6),), 'torch')
  x = RNG.normal(size=(2, 4, 4, 4)).astype(np.float32)
  params = module.init(jax.random.PRNGKey(0), {'s': x})['params']['conv_0']
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  ours = nn.ConvTranspose(6, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)),
                          transpose_kernel=True).apply({'params': params}, x)
  theirs = torch.nn.functional.conv_transpose2d(
      torch.tensor(x.transpose(0, 3, 1, 2)),
      torch.tensor(np.asarray(params['kernel']).transpose(3, 2, 0, 1)),
      torch.tensor(np.asarray(params['bias'])), stride=2, padding=1)
  np.testing.assert_allclose(np.asarray(ours), theirs.numpy().transpose(0, 2, 3, 1),
                             rtol=0, atol=1e-5)


def test_ab_initialises_then_trains_by_cross_entropy(tmp_path):
  """The init stage trains the student's feature layers and the connectors on
  L alone, then the main run is plain cross-entropy."""
  config = _cnn_pair(tmp_path)
  config.method = 'ab'
  config.ab.pairs = ('preact_0:preact_0', 'preact_0:preact_1')  # 8x8: 4 -> 8; 4x4
  config.ab.init_epochs = 2
  metrics = train.train_and_evaluate(config, str(tmp_path / 'ab'))
  init = metrics['init_history']
  assert len(init) == 2 and init[-1]['train_ab'] < init[0]['train_ab']
  assert set(k for k in metrics['history'][-1] if k.startswith('train_')) >= {'train_ce'}
  assert 'train_ab' not in metrics['history'][-1]
  config.model = config_lib.cnn((4, 4), dense=(8,))
  config.ab.pairs = ('block_1:preact_0',)  # 2x2 against 8x8
  with pytest.raises(errors.ConfigError, match='maps height 2 to 8'):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
  config.ab.pairs = ('preact_0:hidden_0',)
  with pytest.raises(errors.ConfigError, match="'hidden_0' is not a teacher feature map"):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
  mlp = config_lib.mlp((16,))
  config.teacher.model = mlp
  with pytest.raises(errors.ConfigError):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))


def test_the_init_stages_train_the_layers_up_to_the_last_paired_map():
  """RepDistiller's get_feat_modules: WRN's final BatchNorm and every
  classifier stay out (under SGD with L2 they would only decay)."""
  wrn = models.create(benchmark.model('wrn_16_2'), 100)
  config = config_lib.get_base_config()
  config.fsp.pairs = ('stem:stem', 'stage_1:stage_1', 'stage_2:stage_2', 'stage_3:stage_3')
  trained = pairs.student_trunk(config, 'fsp.pairs', wrn)
  assert 'last_bn' not in trained and 'head' not in trained
  assert trained == wrn.trunk('embedding') - {'last_bn'}
  cnn = models.create(config_lib.cnn((32, 64), dense=(256,)), 10)
  config.ab.pairs = ('preact_0:preact_0', 'preact_1:preact_1')
  assert pairs.student_trunk(config, 'ab.pairs', cnn) == {'conv_0', 'conv_1'}
