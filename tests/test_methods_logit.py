"""The logit methods since 2022 (kdjax/methods/: dist.py, mlkd.py, ctkd.py and
the logit-standardisation switch standardize.py) against numpy written here
from the papers' formulas and the reference code's reductions; their gradients
against finite differences; training, grids, the teacher cache and refusals
on the digits."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import grid
from kdjax import outputs
from kdjax import train
from kdjax.methods import ctkd
from kdjax.methods import dist
from kdjax.methods import dkd
from kdjax.methods import kd
from kdjax.methods import mlkd
from kdjax.methods import standardize
from tests.test_methods import np_dkd
from tests.test_teacher_cache import _digits_kd, digits_teacher  # pylint: disable=unused-import

RNG = np.random.default_rng(1)
S = RNG.normal(size=(8, 5)) * 2
T = RNG.normal(size=(8, 5)) * 3
Y = np.array([0, 1, 4, 2, 2, 3, 1, 0])
f32 = lambda a: jnp.asarray(a, jnp.float32)


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _ce(s, y):
  return -np.mean(np.log(_softmax(s)[np.arange(len(y)), y]))


def _kl(t, s, temperature):
  """Batch mean of KL(p_t || p_s) at a temperature."""
  pt, ps = _softmax(t / temperature), _softmax(s / temperature)
  return np.mean(np.sum(pt * np.log(pt / ps), axis=-1))


def np_standardize(z):
  """Sun et al. 2024: (z - mean) / (std + 1e-7), the unbiased std (torch's)."""
  return (z - z.mean(-1, keepdims=True)) / (z.std(-1, ddof=1, keepdims=True) + 1e-7)


def np_dist(s, t, y, beta, gamma, tau):
  """Huang et al. 2022: CE + tau^2 (beta (1 - mean_i corr rows) + gamma (1 -
  mean_j corr columns)), Pearson's r as numpy's corrcoef."""
  ps, pt = _softmax(s / tau), _softmax(t / tau)
  inter = np.mean([np.corrcoef(ps[i], pt[i])[0, 1] for i in range(len(ps))])
  intra = np.mean([np.corrcoef(ps[:, j], pt[:, j])[0, 1] for j in range(ps.shape[1])])
  return _ce(s, y) + tau**2 * (beta * (1 - inter) + gamma * (1 - intra))


def np_mlkd(s, t, y, ce_w, kd_w, temperatures, ls=False):
  """Jin et al. 2023 as the reference code computes its weak view: per
  temperature T^2 KL, class- and batch-correlation gaps, each batch-mean term
  times the fraction of examples (classes) at or below the median teacher
  confidence."""
  conf = _softmax(t).max(-1)
  per_class = _softmax(t).sum(0)
  m_i = np.mean(conf <= np.percentile(conf, 50))
  m_c = np.mean(per_class <= np.percentile(per_class, 50))
  zs, zt = (np_standardize(s), np_standardize(t)) if ls else (s, t)
  total = 0.0
  for temp in temperatures:
    ps, pt = _softmax(s / temp), _softmax(t / temp)
    kd_term = temp**2 * _kl(zt, zs, temp)
    cc = np.sum((pt.T @ pt - ps.T @ ps) ** 2) / s.shape[1]
    bc = np.sum((pt @ pt.T - ps @ ps.T) ** 2) / s.shape[0]
    total += kd_term * m_i + cc * m_c + bc * m_i
  return ce_w * _ce(s, y) + kd_w * total


def _fd_check(loss, reference, points=((0, 0), (3, 2), (7, 4), (5, 1)), rtol=3e-3):
  """d loss / d student logits against central differences of `reference` (float64)."""
  grad = jax.grad(lambda s: loss(s))(f32(S))
  eps = 1e-4
  for i, j in points:
    bump = np.zeros_like(S)
    bump[i, j] = eps
    numeric = (reference(S + bump) - reference(S - bump)) / (2 * eps)
    np.testing.assert_allclose(grad[i, j], numeric, rtol=rtol, atol=2e-6)


def test_standardize_matches_the_reference_formula():
  np.testing.assert_allclose(standardize.standardize(f32(T)), np_standardize(T), rtol=1e-5,
                             atol=1e-6)
  z = standardize.standardize(f32(S))
  np.testing.assert_allclose(np.std(np.asarray(z), axis=-1, ddof=1), 1.0, rtol=1e-5)
  # A constant vector stays finite: 0 / (0 + 1e-7).
  assert np.all(np.asarray(standardize.standardize(jnp.ones((2, 4)))) == 0)


@pytest.mark.parametrize('ls', [False, True])
def test_kd_with_and_without_standardisation_matches_numpy(ls):
  got = kd.kd_loss(f32(S), f32(T), Y, temperature=2.0, alpha=0.1,
                   kd_weight=9.0 if ls else None, standardize_logits=ls)
  zs, zt = (np_standardize(S), np_standardize(T)) if ls else (S, T)
  want = 0.1 * _ce(S, Y) + (9.0 if ls else 0.9) * 4.0 * _kl(zt, zs, 2.0)
  np.testing.assert_allclose(got, want, rtol=2e-5)
  ref = lambda s: 0.1 * _ce(s, Y) + 9.0 * 4.0 * _kl(np_standardize(T), np_standardize(s), 2.0)
  _fd_check(lambda s: kd.kd_loss(s, f32(T), Y, temperature=2.0, alpha=0.1, kd_weight=9.0,
                                 standardize_logits=True), ref)


def test_dkd_with_standardisation_reads_standardised_logits_and_raw_ce():
  got = dkd.dkd_loss(f32(S), f32(T), Y, alpha=9.0, beta=72.0, temperature=2.0,
                     standardize_logits=True)
  zs, zt = np_standardize(S), np_standardize(T)
  want = np_dkd(zs, zt, Y, 9.0, 72.0, 2.0) - _ce(zs, Y) + _ce(S, Y)
  np.testing.assert_allclose(got, want, rtol=2e-5)


@pytest.mark.parametrize('beta,gamma,tau', [(1.0, 1.0, 1.0), (2.0, 2.0, 4.0), (0.0, 3.0, 2.0)])
def test_dist_matches_the_paper(beta, gamma, tau):
  got = dist.dist_loss(f32(S), f32(T), Y, beta=beta, gamma=gamma, temperature=tau)
  np.testing.assert_allclose(got, np_dist(S, T, Y, beta, gamma, tau), rtol=2e-5)


def test_dist_gradient_and_identical_predictions():
  _fd_check(lambda s: dist.dist_loss(s, f32(T), Y, beta=2.0, gamma=2.0, temperature=4.0),
            lambda s: np_dist(s, T, Y, 2.0, 2.0, 4.0))
  # A student equal to the teacher has zero relation loss: only the CE is left.
  same = dist.dist_loss(f32(T), f32(T), Y, beta=1.0, gamma=1.0, temperature=1.0)
  np.testing.assert_allclose(same, _ce(T, Y), rtol=1e-5)
  t_grad = jax.grad(lambda t: dist.dist_loss(f32(S), t, Y, beta=1.0, gamma=1.0,
                                             temperature=1.0))(f32(T))
  assert not np.any(np.asarray(t_grad))


@pytest.mark.parametrize('ls', [False, True])
def test_mlkd_matches_the_reference_reductions(ls):
  temps = (4.0, 3.0, 5.0, 2.0, 6.0)
  got = mlkd.mlkd_loss(f32(S), f32(T), Y, ce_weight=0.1, kd_weight=0.9,
                       temperatures=temps, standardize_logits=ls)
  np.testing.assert_allclose(got, np_mlkd(S, T, Y, 0.1, 0.9, temps, ls), rtol=2e-5)
  m_i, m_c = mlkd.masks(f32(T))
  assert 0.5 <= float(m_i) < 1 and 0.5 <= float(m_c) < 1  # the medians' halves


def test_mlkd_gradient_matches_finite_differences():
  temps = (2.0, 4.0)
  _fd_check(lambda s: mlkd.mlkd_loss(s, f32(T), Y, ce_weight=0.1, kd_weight=0.9,
                                     temperatures=temps),
            lambda s: np_mlkd(s, T, Y, 0.1, 0.9, temps))


def test_ctkd_temperature_and_reversed_gradient():
  theta, lam = 0.3, 0.4
  tau = 1.0 + 20.0 / (1 + np.exp(-theta))
  value = ctkd.ctkd_loss(f32(S), f32(T), Y, jnp.float32(theta), alpha=0.1, t_min=1.0,
                         t_range=20.0, strength=jnp.float32(lam))
  kd_at = lambda th: (0.1 * _ce(S, Y) + 0.9 * (1.0 + 20.0 / (1 + np.exp(-th)))**2
                      * _kl(T, S, 1.0 + 20.0 / (1 + np.exp(-th))))
  np.testing.assert_allclose(value, kd_at(theta), rtol=2e-5)
  assert float(ctkd.temperature(theta, 1.0, 20.0)) == pytest.approx(tau)
  # theta ascends the KD loss: its gradient is -lambda times the true one.
  grad = jax.grad(lambda th: ctkd.ctkd_loss(f32(S), f32(T), Y, th, alpha=0.1, t_min=1.0,
                                            t_range=20.0, strength=jnp.float32(lam)))(
                                                jnp.float32(theta))
  numeric = (kd_at(theta + 1e-4) - kd_at(theta - 1e-4)) / 2e-4
  np.testing.assert_allclose(grad, -lam * numeric, rtol=3e-3)
  # The student's gradient is plain KD's at that temperature.
  s_grad = jax.grad(lambda s: ctkd.ctkd_loss(s, f32(T), Y, jnp.float32(theta), alpha=0.1,
                                             t_min=1.0, t_range=20.0,
                                             strength=jnp.float32(lam)))(f32(S))
  tau32 = ctkd.temperature(jnp.float32(theta), 1.0, 20.0)
  np.testing.assert_allclose(s_grad, jax.grad(lambda s: kd.kd_loss(
      s, f32(T), Y, temperature=tau32, alpha=0.1))(f32(S)), rtol=1e-5, atol=1e-8)


def test_ctkd_trains_theta_by_its_own_sgd_and_the_student_by_the_run_optimizer():
  """Adam would normalise lambda away; theta's SGD steps scale with it."""
  config = config_lib.get_base_config()
  config.method = 'ctkd'
  tx = train.optimizer(ctkd.METHOD, config, steps_per_epoch=1)
  params = {'student': {'w': jnp.float32(1.0)}, 'method': {'temperature_logit': jnp.float32(1.0)}}
  grads = jax.tree.map(lambda p: 0.01 * jnp.ones_like(p), params)
  updates, _ = tx.update(grads, tx.init(params), params)
  # SGD 0.05 with L2 5e-4: -0.05 * (0.01 + 5e-4 * 1); Adam: about -lr whatever the scale
  assert float(updates['method']['temperature_logit']) == pytest.approx(-0.05 * (0.01 + 5e-4))
  assert float(updates['student']['w']) == pytest.approx(-1e-3, rel=1e-3)


def test_ctkd_lambda_schedule_is_the_reference_cosine():
  """zhengli97/CTKD: CosineDecay(max 0, min -1, loops 10) at 1-based epochs
  is the reversal factor, -lambda."""
  ref = lambda e: (np.cos(min(e, 10) * np.pi / 10) + 1) / 2 * (0 - -1) + -1
  for e in (1, 2, 5, 10, 11, 30):
    got = float(ctkd.reversal_strength(jnp.float32(e), 1.0, 10.0))
    assert -got == pytest.approx(ref(e), abs=1e-6)
  assert float(ctkd.reversal_strength(jnp.float32(1), 0.5, 0.0)) == 0.5


# --- training on the digits ---------------------------------------------------

def _digits(method, teacher_dir='', epochs=3):
  config = _digits_kd(teacher_dir, True, method)
  config.train.epochs = epochs
  return config


@pytest.fixture(scope='module')
def teacher_dir(digits_teacher):
  return digits_teacher


def _logits(workdir):
  return outputs.read_predictions(os.path.join(workdir, 'predictions', 'test.npz'))['logits']


@pytest.mark.parametrize('method,key,values', [
    ('dist', 'dist.beta', (1.0, 4.0)),
    ('mlkd', 'mlkd.kd_weight', (0.9, 3.0)),
    ('ctkd', 'ctkd.lambda_max', (0.0, 1.0)),
    ('kd', 'distill.standardized_kd_weight', (1.0, 9.0)),
    ('cc', 'cc.weight', (0.02, 2.0)),  # its parts read the cached teacher embedding
])
def test_each_method_trains_with_the_cache_and_as_a_grid(teacher_dir, tmp_path, method,
                                                         key, values):
  """Two settings as one program (teacher cache on: the methods read logits
  only) differ, and the second equals its run alone to float rounding; for
  MLKD, whose masks read the teacher's logits, the run without the cache is
  the same too."""
  configs = []
  for v in values:
    config = _digits(method, teacher_dir)
    config.distill.logit_standardize = method == 'kd'
    section, leaf = key.split('.')
    config[section][leaf] = v
    configs.append(config)
  dirs = [str(tmp_path / f'point{i}') for i in range(len(values))]
  together = grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  assert together[0]['params_sha256'] != together[1]['params_sha256']
  alone = train.train_and_evaluate(configs[1], str(tmp_path / 'alone'))
  assert alone['teacher_cache']['used'] and together[1]['teacher_cache']['used']
  np.testing.assert_allclose(_logits(dirs[1]), _logits(str(tmp_path / 'alone')),
                             rtol=0, atol=1e-4)
  assert alone['params'] == 32 * 64 + 32 + 32 * 10 + 10  # no method part counted
  if method == 'mlkd':
    configs[1].distill.teacher_cache = False
    uncached = train.train_and_evaluate(configs[1], str(tmp_path / 'uncached'))
    assert not uncached['teacher_cache']['used']
    np.testing.assert_allclose(_logits(str(tmp_path / 'uncached')),
                               _logits(str(tmp_path / 'alone')), rtol=0, atol=1e-4)


def test_ctkd_learns_its_temperature_and_resumes_it_bit_exact(teacher_dir, tmp_path):
  config = _digits('ctkd', teacher_dir, epochs=3)
  config.ctkd.lambda_epochs = 2.0
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  parts = straight['method_parts']
  initial = float(ctkd.temperature(1.0, 1.0, 20.0))
  assert parts['temperature'] != pytest.approx(initial, abs=1e-3)
  assert parts['temperature'] == pytest.approx(float(ctkd.temperature(
      parts['temperature_logit'], 1.0, 20.0)))
  # Stopped after epoch 1, resumed to 3: the same student and temperature.
  config.train.epochs = 1
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 3
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == straight['params_sha256']
  assert resumed['method_parts'] == parts
  # Re-evaluating the checkpoint finds the method's part and the student apart.
  again = train.evaluate_checkpoint(config, str(tmp_path / 'resumed'))
  assert again['method_parts'] == parts and again['params'] == straight['params']
  # lambda_max = 0 (and no L2, which theta's SGD applies as the reference's):
  # no gradient, the temperature stays at its start.
  config.ctkd.lambda_max = 0.0
  config.ctkd.optimizer.weight_decay = 0.0
  frozen = train.train_and_evaluate(config, str(tmp_path / 'frozen'))
  assert frozen['method_parts']['temperature'] == pytest.approx(initial, rel=1e-6)


@pytest.mark.parametrize('key,value,match', [
    ('dist.temperature', 0.0, r'dist.temperature=0.0 is invalid; expected a finite number > 0'),
    ('dist.gamma', float('nan'), r'dist.gamma=nan is invalid'),
    ('mlkd.temperatures', (), r'mlkd.temperatures=\(\) is invalid; expected a non-empty tuple'),
    ('mlkd.temperatures', (2.0, float('inf')), r'mlkd.temperatures=\(2.0, inf\) is invalid'),
    ('ctkd.temperature_range', float('inf'), r'ctkd.temperature_range=inf is invalid'),
])
def test_bad_settings_refuse_in_one_line(key, value, match):
  config = _digits(key.split('.')[0] if key.split('.')[0] in ('dist', 'mlkd', 'ctkd') else 'kd')
  section, leaf = key.split('.')
  config[section][leaf] = value
  with pytest.raises(errors.ConfigError, match=match) as caught:
    config_lib.validate(config)
  assert '\n' not in str(caught.value)


def test_points_with_and_without_the_standardisation_switch_share_a_program(teacher_dir,
                                                                            tmp_path):
  """DIST with and without logit standardisation (a static option of the
  loss): one program, each point with its own objective, equal to its run
  alone to float rounding."""
  configs = [_digits('dist', teacher_dir) for _ in range(2)]
  configs[1].distill.logit_standardize = True
  dirs = [str(tmp_path / 'plain'), str(tmp_path / 'ls')]
  together = grid.train_grid(configs, dirs, str(tmp_path / 'g'))
  assert together[1]['grid']['methods'] == ['dist']
  assert together[0]['params_sha256'] != together[1]['params_sha256']
  train.train_and_evaluate(configs[1], str(tmp_path / 'alone'))
  np.testing.assert_allclose(_logits(dirs[1]), _logits(str(tmp_path / 'alone')),
                             rtol=0, atol=1e-4)


# --- several methods in one program --------------------------------------------

def test_points_of_different_methods_train_as_one_program(teacher_dir, tmp_path):
  """none, kd, dist and ctkd (a trainable temperature under its own SGD)
  students of one seed share one program (one teacher read per batch); each
  ends as its own run would, to float rounding."""
  configs = [_digits(method, teacher_dir) for method in ('none', 'kd', 'dist', 'ctkd')]
  dirs = [str(tmp_path / c.method) for c in configs]
  together = grid.train_grid(configs, dirs, str(tmp_path / 'grid'))
  assert together[2]['grid']['methods'] == ['ctkd', 'dist', 'kd', 'none']
  assert 'temperature' in str(together[3]['method_parts'])
  for config, workdir, got in zip(configs, dirs, together):
    alone_dir = str(tmp_path / f'alone_{config.method}')
    alone = train.train_and_evaluate(config, alone_dir)
    assert got['method'] == config.method
    assert (got['teacher_cache'] is None) == (config.method == 'none')
    assert os.path.exists(os.path.join(workdir, 'teacher.json')) == (config.method != 'none')
    np.testing.assert_allclose(_logits(workdir), _logits(alone_dir), rtol=0, atol=1e-4)
    np.testing.assert_allclose(got['history'][-1]['train_loss'],
                               alone['history'][-1]['train_loss'], rtol=1e-4)


@pytest.mark.parametrize('change,match', [
    (lambda c: c.train.update(batch_size=64), "grid points differ in 'train.batch_size'"),
    (lambda c: c.update(method='ofd'), "method='ofd' runs the teacher with the batch's"),
    (lambda c: c.update(method='fitnet'), "method='fitnet' trains in two stages"),
])
def test_points_that_cannot_share_a_program_refuse(teacher_dir, tmp_path, change, match):
  configs = [_digits('kd', teacher_dir), _digits('dist', teacher_dir)]
  change(configs[1])
  with pytest.raises(errors.ConfigError, match=match):
    grid.train_grid(configs, [str(tmp_path / 'a'), str(tmp_path / 'b')], str(tmp_path / 'g'))
  assert not os.path.exists(tmp_path / 'a')
