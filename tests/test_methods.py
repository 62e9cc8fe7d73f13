"""The methods registry (kdjax/methods/), and decoupled KD and attention
transfer against numpy written here from the papers' formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import demo
from kdjax import errors
from kdjax import grid
from kdjax import losses
from kdjax import methods
from kdjax import train
from kdjax.methods import attention
from kdjax.methods import base
from kdjax.methods import dkd

RNG = np.random.default_rng(0)
S_LOGITS = RNG.normal(size=(6, 5)) * 3
T_LOGITS = RNG.normal(size=(6, 5)) * 3
LABELS = np.array([0, 1, 4, 2, 2, 3])


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_dkd(s, t, y, alpha, beta, temperature):
  """Zhao et al. eqs. (1)-(5) as written: binary b = [p_y, 1 - p_y] and p^ over
  the other classes, KL of each; CE + T^2 (alpha TCKD + beta NCKD), batch means."""
  ps, pt = _softmax(s / temperature), _softmax(t / temperature)
  tckd = nckd = 0.0
  for i, label in enumerate(y):
    bs = np.array([ps[i, label], 1 - ps[i, label]])
    bt = np.array([pt[i, label], 1 - pt[i, label]])
    tckd += np.sum(bt * np.log(bt / bs))
    rest = np.arange(s.shape[1]) != label
    hs, ht = ps[i, rest] / ps[i, rest].sum(), pt[i, rest] / pt[i, rest].sum()
    nckd += np.sum(ht * np.log(ht / hs))
  ce = -np.mean(np.log(_softmax(s)[np.arange(len(y)), y]))
  return ce + temperature**2 * (alpha * tckd + beta * nckd) / len(y)


@pytest.mark.parametrize('alpha,beta,temperature', [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0),
                                                    (2.0, 0.0, 10.0)])
def test_dkd_matches_the_paper(alpha, beta, temperature):
  got = dkd.dkd_loss(jnp.asarray(S_LOGITS, jnp.float32), jnp.asarray(T_LOGITS, jnp.float32),
                     LABELS, alpha=alpha, beta=beta, temperature=temperature)
  np.testing.assert_allclose(got, np_dkd(S_LOGITS, T_LOGITS, LABELS, alpha, beta,
                                         temperature), rtol=2e-5)


def test_dkd_decomposes_kd():
  """Paper eq. (5): KL(p_t || p_s) = TCKD + (1 - p_t,y) NCKD, per example."""
  for i in range(len(LABELS)):
    s, t, y = S_LOGITS[i:i + 1], T_LOGITS[i:i + 1], LABELS[i:i + 1]
    tckd, nckd = dkd.dkd_terms(jnp.asarray(s, jnp.float32), jnp.asarray(t, jnp.float32),
                               y, 2.0)
    kl = losses.kl_divergence(jnp.asarray(t, jnp.float32), jnp.asarray(s, jnp.float32), 2.0)
    p_y = _softmax(t / 2.0)[0, y[0]]
    np.testing.assert_allclose(kl, tckd + (1 - p_y) * nckd, rtol=1e-5, atol=1e-7)


def test_dkd_gradient_matches_finite_differences():
  s = jnp.asarray(S_LOGITS, jnp.float32)
  kw = dict(alpha=1.0, beta=8.0, temperature=4.0)
  grad = jax.grad(lambda s: dkd.dkd_loss(s, T_LOGITS.astype(np.float32), LABELS, **kw))(s)
  eps = 1e-4
  for i, j in ((0, 0), (2, 4), (5, 1), (3, 2)):
    bump = np.zeros_like(S_LOGITS)
    bump[i, j] = eps
    numeric = (np_dkd(S_LOGITS + bump, T_LOGITS, LABELS, 1.0, 8.0, 4.0) -
               np_dkd(S_LOGITS - bump, T_LOGITS, LABELS, 1.0, 8.0, 4.0)) / (2 * eps)
    np.testing.assert_allclose(grad[i, j], numeric, rtol=2e-3, atol=1e-6)
  # The teacher gets no gradient.
  t_grad = jax.grad(lambda t: dkd.dkd_loss(s, t, LABELS, **kw))(jnp.asarray(T_LOGITS, jnp.float32))
  assert not np.any(np.asarray(t_grad))


def test_dkd_stays_finite_where_probabilities_underflow():
  """Logits 200 apart: p_y of exp(-200 / T) rounds to 0 in float32; the log-space
  terms stay finite (a log of the rounded probabilities would be -inf)."""
  s = jnp.asarray([[200.0, 0.0, 0.0]])
  t = jnp.asarray([[0.0, 200.0, 0.0]])
  value, grad = jax.value_and_grad(lambda s: dkd.dkd_loss(
      s, t, np.array([1]), alpha=1.0, beta=8.0, temperature=1.0))(s)
  assert np.isfinite(float(value)) and np.isfinite(np.asarray(grad)).all()


@pytest.mark.parametrize('s,t', [([15.0, 0.0], [20.0, 0.0]), ([12.0, 1.0, -3.0], [25.0, 0.5, 0.0]),
                                 ([30.0, 0.0], [20.0, 0.0])])
def test_dkd_target_term_keeps_float32_precision_near_saturation(s, t):
  """p_y rounds to 1 in float32: TCKD must still match float64 (it was
  -1.03e-8 for [15, 0] vs [20, 0], exactly 2.935e-7: negative, a KL)."""
  s64, t64 = np.array([s]), np.array([t])
  exact = np_dkd(s64, t64, np.array([0]), 1.0, 0.0, 1.0) - np_dkd(
      s64, t64, np.array([0]), 0.0, 0.0, 1.0)  # the TCKD part of the loss alone
  tckd, _ = dkd.dkd_terms(jnp.asarray(s64, jnp.float32), jnp.asarray(t64, jnp.float32),
                          np.array([0]), 1.0)
  assert exact > 0 and float(tckd) == pytest.approx(exact, rel=1e-3)


def test_dkd_warmup_weight():
  w = lambda epoch, warmup: float(dkd.warmup_weight(jnp.float32(epoch), jnp.float32(warmup)))
  assert w(1, 20) == pytest.approx(0.05) and w(20, 20) == 1.0 and w(35, 20) == 1.0
  assert w(1, 0) == 1.0


def np_attention_map(a, p):
  q = (np.abs(a) ** p).mean(-1).reshape(a.shape[0], -1)
  return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)


def test_attention_loss_matches_the_paper():
  """Zagoruyko & Komodakis eq. (2) with F_mean^p, normalised, squared
  difference averaged over batch and positions (their code's at_loss)."""
  s, t = RNG.normal(size=(3, 4, 4, 6)), RNG.normal(size=(3, 4, 4, 9))
  for p in (1.0, 2.0, 4.0):
    want = np.mean((np_attention_map(s, p) - np_attention_map(t, p)) ** 2)
    got = attention.attention_loss(jnp.asarray(s, jnp.float32), jnp.asarray(t, jnp.float32), p)
    np.testing.assert_allclose(got, want, rtol=1e-5)
  # Maps that differ only in scale have the same attention.
  assert float(attention.attention_loss(jnp.asarray(s), jnp.asarray(5 * s))) < 1e-12


def test_attention_gradient_matches_finite_differences():
  s, t = RNG.normal(size=(2, 3, 3, 4)), RNG.normal(size=(2, 3, 3, 5))
  np_loss = lambda s: np.mean((np_attention_map(s, 2.0) - np_attention_map(t, 2.0)) ** 2)
  grad = jax.grad(attention.attention_loss)(jnp.asarray(s, jnp.float32),
                                            jnp.asarray(t, jnp.float32))
  eps = 1e-4
  for index in ((0, 0, 0, 0), (1, 2, 1, 3), (0, 1, 2, 2)):
    bump = np.zeros_like(s)
    bump[index] = eps
    numeric = (np_loss(s + bump) - np_loss(s - bump)) / (2 * eps)
    np.testing.assert_allclose(grad[index], numeric, rtol=2e-3, atol=1e-6)
  # An all-zero map (dead ReLUs) keeps the gradient finite.
  zero = jax.grad(attention.attention_loss)(jnp.zeros((2, 3, 3, 4)), jnp.asarray(t, jnp.float32))
  assert np.isfinite(np.asarray(zero)).all()


def test_attention_objective_weighs_pairs_by_beta_as_the_reference_code():
  """The authors' code adds `opt.beta * sum(loss_groups)` (not the paper's
  beta / 2), each group the mean squared difference of the normalised maps."""
  s = {'a': jnp.asarray(RNG.normal(size=(2, 4, 4, 3)), jnp.float32),
       'b': jnp.asarray(RNG.normal(size=(2, 2, 2, 3)), jnp.float32)}
  t = {'x': jnp.asarray(RNG.normal(size=(2, 4, 4, 5)), jnp.float32),
       'y': jnp.asarray(RNG.normal(size=(2, 2, 2, 5)), jnp.float32)}
  logits = jnp.asarray(S_LOGITS[:2], jnp.float32)
  got, terms = attention.loss((logits, s), (None, t), LABELS[:2], {'weight': 1000.0},
                              pairs=(('a', 'x'), ('b', 'y')), p=2.0)
  group = lambda a, b: np.mean((np_attention_map(np.asarray(a), 2.0)
                                - np_attention_map(np.asarray(b), 2.0)) ** 2)
  want = losses.cross_entropy(logits, LABELS[:2]) + 1000.0 * (
      group(s['a'], t['x']) + group(s['b'], t['y']))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  np.testing.assert_allclose(terms['ce'], losses.cross_entropy(logits, LABELS[:2]))
  np.testing.assert_allclose(terms['ce'] + terms['at'], got, rtol=1e-6)


def test_registry_is_where_config_grid_and_analysis_look():
  config = config_lib.get_base_config()
  for key in methods.all_keys().values():
    assert base.lookup(config, key.path) == key.default
  assert grid.grid_keys('kd') == ('seed', 'distill.temperature', 'distill.alpha',
                                  'distill.standardized_kd_weight')
  assert grid.grid_keys('dkd') == ('seed', 'dkd.alpha', 'dkd.beta', 'dkd.temperature',
                                   'dkd.warmup_epochs')
  config.dkd.beta = -1.0
  with pytest.raises(errors.ConfigError, match=r'dkd.beta=-1.0 is invalid; expected a finite number >= 0'):
    config_lib.validate(config)
  with pytest.raises(ValueError, match='declares differently'):
    base.register(base.Method('clash', methods.kd.loss,
                              keys=(base.number('distill.alpha', 0.5, 'another alpha'),)))
  assert 'clash' not in methods.names()


@pytest.fixture
def toy_method():
  """A method defined here, not in kdjax/: CE plus a penalty on the logits'
  squares, weighted by `toy.weight`, a runtime array."""
  weight = base.number('toy.weight', 0.1, 'weight of the logit penalty', low=0, symbol='w')

  def loss(student, teacher, labels, hparams):
    del teacher
    logits = student[0]
    return losses.cross_entropy(logits, labels) + hparams['weight'] * jnp.mean(logits**2)

  base.register(base.Method('toy', loss, needs_teacher=False, keys=(weight,),
                            hparams={'weight': weight.path},
                            features=lambda config, options: ((), ())))
  yield
  base._REGISTRY.pop('toy')  # pylint: disable=protected-access


def _digits(role='student', epochs=2):
  config = demo.get_config(role)
  config.model.hidden = (32,)
  config.teacher.model.hidden = (32,)
  config.train.update(epochs=epochs, batch_size=64)
  config.dataset.update(train_subset=256, test_subset=100)
  config.latency.update(warmup=1, repeats=2)
  return config


def test_a_method_registered_from_a_test_file_trains(toy_method, tmp_path):
  del toy_method
  runs = {}
  for w in (0.0, 1.0):
    config = _digits()
    config.method = 'toy'
    config.toy.weight = w
    runs[w] = train.train_and_evaluate(config, str(tmp_path / f'toy{w}'))
  plain = train.train_and_evaluate(_digits(), str(tmp_path / 'plain'))
  assert runs[1.0]['method'] == 'toy'
  # weight 0 is plain cross-entropy, bit for bit; weight 1 trains differently.
  assert runs[0.0]['params_sha256'] == plain['params_sha256']
  assert runs[1.0]['params_sha256'] != plain['params_sha256']
  # Its key is a grid key: two weights train as one program like two runs.
  points = []
  for w in (0.0, 1.0):
    config = _digits()
    config.update(method='toy')
    config.toy.weight = w
    points.append(config)
  together = grid.train_grid(points, [str(tmp_path / 'g' / str(w)) for w in (0, 1)],
                             str(tmp_path / 'g' / 'grid'))
  np.testing.assert_allclose(together[1]['test']['loss'], runs[1.0]['test']['loss'],
                             rtol=1e-4)
  bad = _digits()
  bad.method = 'toy'
  bad.toy.weight = -1.0
  with pytest.raises(errors.ConfigError, match='toy.weight=-1.0 is invalid'):
    train.train_and_evaluate(bad, str(tmp_path / 'bad'))


def _cnn_pair(tmp_path):
  teacher = _digits('teacher', epochs=1)
  teacher.model = config_lib.cnn((8, 8), dense=(16,))
  teacher_dir = str(tmp_path / 'teacher')
  train.train_and_evaluate(teacher, teacher_dir)
  student = _digits('student', epochs=1)
  student.model = config_lib.cnn((4,), dense=(8,))
  student.teacher.model = teacher.model
  student.teacher.workdir = teacher_dir
  return student


def test_attention_transfer_trains_and_refuses_what_cannot_pair(tmp_path):
  config = _cnn_pair(tmp_path)
  config.method = 'at'
  config.at.pairs = ('block_0:block_0',)  # 4x4 maps of the 8x8 digits
  metrics = train.train_and_evaluate(config, str(tmp_path / 'at'))
  assert metrics['method'] == 'at' and metrics['teacher_cache']['reason']
  for pairs, match in ((('block_0:block_1',), r"pairs \(4, 4\) with \(2, 2\)"),
                       (('conv_9:block_0',), "reads the student feature 'conv_9'"),
                       ((), r'at.pairs=\(\) names no stages')):
    config.at.pairs = pairs
    with pytest.raises(errors.ConfigError, match=match):
      train.train_and_evaluate(config, str(tmp_path / 'refused'))
  mlp = _digits()
  mlp.update(method='at')
  mlp.at.pairs = ('hidden_0:block_0',)
  mlp.teacher.workdir = config.teacher.workdir
  mlp.teacher.model = config.teacher.model
  with pytest.raises(errors.ConfigError, match='needs spatial feature maps'):
    train.train_and_evaluate(mlp, str(tmp_path / 'mlp'))
  config.at.pairs = ('block_0',)
  with pytest.raises(errors.ConfigError, match="expected a tuple of 'student_feature:teacher_feature'"):
    config_lib.validate(config)


def test_dkd_trains_and_its_warmup_follows_the_epoch(tmp_path):
  config = _cnn_pair(tmp_path)
  config.method = 'dkd'
  metrics = {}
  for warmup in (0.0, 1e6):  # 1e6: weight ~1e-6, about plain cross-entropy
    config.dkd.warmup_epochs = warmup
    metrics[warmup] = train.train_and_evaluate(config, str(tmp_path / f'dkd{warmup}'))
  plain = config_lib.from_json(config.to_dict())
  plain.method = 'none'
  alone = train.train_and_evaluate(plain, str(tmp_path / 'plain'))
  assert metrics[0.0]['params_sha256'] != metrics[1e6]['params_sha256']
  np.testing.assert_allclose(metrics[1e6]['history'][-1]['train_loss'],
                             alone['history'][-1]['train_loss'], rtol=1e-3)
