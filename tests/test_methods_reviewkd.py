"""ReviewKD (issue 28): the fusion modules against torch's functional ops as
mdistiller's ABF composes them, the HCL loss against numpy, a run with its
warm-up, and the refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import errors
from kdjax import train
from kdjax.methods import reviewkd
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(2021)


def np_pool(x, l):
  b, h, w, c = x.shape
  return x.reshape(b, l, h // l, l, w // l, c).mean(axis=(2, 4))


def np_hcl(results, targets):
  """mdistiller's hcl_loss."""
  total = 0.0
  for fs, ft in zip(results, targets):
    h = fs.shape[1]
    loss, cnt, tot = ((fs - ft) ** 2).mean(), 1.0, 1.0
    for l in (4, 2, 1):
      if l >= h:
        continue
      cnt /= 2.0
      loss += ((np_pool(fs, l) - np_pool(ft, l)) ** 2).mean() * cnt
      tot += cnt
    total += loss / tot
  return total


def test_hcl_matches_the_reference():
  shapes = [(3, 8, 8, 4), (3, 4, 4, 6), (3, 1, 1, 5)]
  fs = [RNG.normal(size=s) for s in shapes]
  ft = [RNG.normal(size=s) for s in shapes]
  got = float(reviewkd.hcl([jnp.asarray(x, jnp.float32) for x in fs],
                           [jnp.asarray(x, jnp.float32) for x in ft]))
  np.testing.assert_allclose(got, np_hcl(fs, ft), rtol=1e-5)


def test_review_modules_match_torch():
  """Review of a 8x8 map, a 4x4 map and a vector to teacher sizes 8, 8 and 1
  (the second resized up), against mdistiller's ABF written with torch's
  functional ops on the same parameters."""
  torch = pytest.importorskip('torch')
  F = torch.nn.functional
  pairs = (('a', 'x'), ('b', 'y'), ('c', 'z'))
  targets = ((8, 8, 5), (8, 8, 7), (1, 1, 6))
  module = reviewkd.Review(pairs, targets, mid=4, param_init='torch')
  features = {'a': RNG.normal(size=(4, 8, 8, 3)), 'b': RNG.normal(size=(4, 4, 4, 6)),
              'c': RNG.normal(size=(4, 4))}
  features = {k: jnp.asarray(v, jnp.float32) for k, v in features.items()}
  params = module.init(jax.random.PRNGKey(0), features)['params']
  ours = module.apply({'params': params}, features)

  t = lambda a: torch.tensor(np.asarray(a))
  nchw = lambda a: t(a).permute(0, 3, 1, 2) if np.ndim(a) == 4 else t(a)[:, :, None, None]
  kernel = lambda k: t(k).permute(3, 2, 0, 1)  # HWIO -> OIHW
  bn = lambda x, p, name: F.batch_norm(x, None, None, t(p[f'{name}_scale']),
                                       t(p[f'{name}_bias']), training=True, eps=1e-5)

  def abf(p, x, y, out_shape):  # mdistiller's ABF.forward
    n, _, h, w = x.shape
    x = bn(F.conv2d(x, kernel(p['conv1']['kernel'])), p, 'bn1')
    if y is not None:
      y = F.interpolate(y, (h, w), mode='nearest')
      z = torch.sigmoid(F.conv2d(torch.cat([x, y], 1), kernel(p['att_conv']['kernel']),
                                 t(p['att_conv']['bias'])))
      x = x * z[:, 0].view(n, 1, h, w) + y * z[:, 1].view(n, 1, h, w)
    if x.shape[-1] != out_shape:
      x = F.interpolate(x, (out_shape, out_shape), mode='nearest')
    return bn(F.conv2d(x, kernel(p['conv2']['kernel']), padding=1), p, 'bn2'), x

  residual = None
  for i in (2, 1, 0):
    result, residual = abf(params[f'abf_{i}'], nchw(features[pairs[i][0]]), residual,
                           targets[i][0])
    np.testing.assert_allclose(np.asarray(ours[f'pair_{i}']),
                               result.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)


# From 4x6: whole multiples up, whole divisors down, mixed, neither.
NEAREST_SIZES = ((8, 12), (4, 6), (2, 3), (1, 1), (8, 3), (3, 4), (6, 5))


def test_nearest_is_torchs():
  torch = pytest.importorskip('torch')
  for shape in ((2, 3, 5, 4), (2, 4, 6, 3)):
    x = RNG.normal(size=shape).astype(np.float32)
    for size in ((6, 10), (3, 5), (2, 2)) + NEAREST_SIZES:
      theirs = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), size,
                                               mode='nearest').permute(0, 2, 3, 1).numpy()
      np.testing.assert_array_equal(np.asarray(reviewkd.nearest(jnp.asarray(x), size)), theirs)


def test_nearest_gradient_sums_onto_each_source_pixel():
  """The backward: every output pixel's gradient added onto its source
  floor(i * H / h) (numpy)."""
  x = RNG.normal(size=(2, 4, 6, 3)).astype(np.float32)
  for h, w in NEAREST_SIZES:
    weights = RNG.normal(size=(2, h, w, 3)).astype(np.float32)
    ours = jax.grad(lambda x: jnp.sum(weights * reviewkd.nearest(x, (h, w))))(jnp.asarray(x))
    rows, cols = (np.floor(np.arange(n) * m / n).astype(int) for n, m in ((h, 4), (w, 6)))
    want = np.zeros_like(x)
    for i, r in enumerate(rows):
      for j, c in enumerate(cols):
        want[:, r, c] += weights[:, i, j]
    np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-6, atol=1e-6)


def test_reviewkd_trains_with_its_warmup_and_refuses_what_cannot_pair(tmp_path):
  config = _cnn_pair(tmp_path)  # student: 8x8 conv_0, 4x4 block_0, 8-d embedding
  config.method = 'reviewkd'
  config.train.epochs = 2
  config.reviewkd.update(pairs=('block_0:preact_1', 'embedding:embedding'), warmup_epochs=4.0)
  metrics = train.train_and_evaluate(config, str(tmp_path / 'review'))
  history = metrics['history']
  for record in history:
    assert record['train_ce'] + record['train_reviewkd'] == pytest.approx(
        record['train_loss'], rel=1e-5)
  assert history[0]['train_reviewkd'] > 0
  student = train.models.create(config.model, 10)
  assert metrics['params'] == train.models.param_count(train.models.init(
      student, train.steps.init_rng(config.seed), (8, 8, 1))['params'])
  config.reviewkd.pairs = ()
  with pytest.raises(errors.ConfigError, match='names no layers'):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
  config.reviewkd.pairs = ('block_0:logits',)
  with pytest.raises(errors.ConfigError, match="names the teacher's logits"):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
