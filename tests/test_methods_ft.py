"""Factor transfer (issue 28): the factor loss against numpy of RepDistiller's
FactorTransfer, finite differences, the paraphraser's transposed convs
against torch, and the two stages: the paraphraser trained alone, then
frozen (the method's state) under the trained translator, through a
kill-and-resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import checkpoint
from kdjax import errors
from kdjax import train
from kdjax.methods import ft
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(2018)


def np_factor(x):
  f = (x ** 2).mean(axis=-1).reshape(x.shape[0], -1)
  return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def np_factor_loss(f_s, f_t):
  """RepDistiller's FactorTransfer(p1=2, p2=1); the larger map pooled first."""
  if f_s.shape[1] > f_t.shape[1]:
    b, h, w, c = f_s.shape
    l = f_t.shape[1]
    f_s = f_s.reshape(b, l, h // l, l, w // l, c).mean(axis=(2, 4))
  return np.abs(np_factor(f_s) - np_factor(f_t)).mean()


def test_factor_loss_matches_the_reference_and_its_gradient():
  f_s, f_t = RNG.normal(size=(3, 8, 8, 4)), RNG.normal(size=(3, 4, 4, 6))
  got = float(ft.factor_loss(jnp.asarray(f_s, jnp.float32), jnp.asarray(f_t, jnp.float32)))
  np.testing.assert_allclose(got, np_factor_loss(f_s, f_t), rtol=1e-5)
  grad = np.asarray(jax.grad(lambda x: ft.factor_loss(x, jnp.asarray(f_t, jnp.float32)))(
      jnp.asarray(f_s, jnp.float32)))
  for index in ((0, 0, 0, 0), (1, 3, 5, 2), (2, 7, 7, 3)):
    bump = np.zeros_like(f_s)
    bump[index] = 1e-6
    numeric = (np_factor_loss(f_s + bump, f_t) - np_factor_loss(f_s - bump, f_t)) / 2e-6
    np.testing.assert_allclose(grad[index], numeric, rtol=1e-3, atol=1e-7)


def test_paraphraser_is_repdistillers_with_torchs_transposed_convs():
  torch = pytest.importorskip('torch')
  F = torch.nn.functional
  module = ft.Paraphraser(6, 'x', 'torch')
  x = RNG.normal(size=(2, 4, 4, 6)).astype(np.float32)
  params = module.init(jax.random.PRNGKey(0), {}, {'x': x})['params']
  ours = module.apply({'params': params}, {}, {'x': x})
  assert params['enc_1']['kernel'].shape == (3, 3, 6, 3)  # C -> kC, k = 0.5
  h = torch.tensor(x).permute(0, 3, 1, 2)
  t = lambda a: torch.tensor(np.asarray(a))
  for i in range(3):
    h = F.leaky_relu(F.conv2d(h, t(params[f'enc_{i}']['kernel']).permute(3, 2, 0, 1),
                              t(params[f'enc_{i}']['bias']), padding=1), 0.1)
  np.testing.assert_allclose(np.asarray(ft.encode(params, jnp.asarray(x))),
                             h.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)
  for i in range(3):  # ConvTranspose2d(3, stride 1, padding 1), weight [in, out, kh, kw]
    h = F.leaky_relu(F.conv_transpose2d(h, t(params[f'dec_{i}']['kernel']).permute(3, 2, 0, 1),
                                        t(params[f'dec_{i}']['bias']), padding=1), 0.1)
  np.testing.assert_allclose(np.asarray(ours['reconstruction']),
                             h.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)


def test_ft_trains_the_paraphraser_then_freezes_it_under_the_translator(tmp_path):
  config = _cnn_pair(tmp_path)  # student block_0 4x4x4; teacher block_0 4x4x8
  config.method = 'ft'
  config.ft.update(student_layer='block_0', teacher_layer='block_0', init_epochs=2)
  config.train.epochs = 2
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  stage = straight['paraphraser_history']
  assert len(stage) == 2 and stage[1]['train_reconstruction'] < stage[0]['train_reconstruction']
  last = straight['history'][-1]
  assert last['train_ce'] + last['train_ft'] == pytest.approx(last['train_loss'], rel=1e-5)
  # The main run's state is the stage's final paraphraser, untouched since.
  stage_mngr = checkpoint.manager(str(tmp_path / 'straight' / 'paraphraser'), create=False)
  trained = stage_mngr.restore(stage_mngr.latest_step())['state']['params']['method']
  mngr = checkpoint.manager(str(tmp_path / 'straight'), create=False)
  saved = mngr.restore(mngr.latest_step())['state']
  for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(saved['method_state'])):
    np.testing.assert_array_equal(a, b)
  assert saved['params']['method']['conv_1']['kernel'].shape == (3, 3, 4, 4)  # 4 -> 8 * 0.5
  config.train.epochs = 1
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 2
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == straight['params_sha256']
  config.ft.student_layer = 'embedding'
  with pytest.raises(errors.ConfigError, match="ft.student_layer='embedding' is"):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
