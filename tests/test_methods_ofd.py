"""OFD (issue 28): the margins against the truncated-normal formula and
scipy, the partial L2 distance against numpy of mdistiller's feat_loss, a
run on small CIFAR ResNets (margins from the teacher's BatchNorms) and the
refusals."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy import integrate, stats

from kdjax import errors
from kdjax import methods
from kdjax import models
from kdjax import steps
from kdjax import train
from kdjax.methods import ofd
from tests.test_methods import _cnn_pair, _digits

RNG = np.random.default_rng(2019)


def np_feat_loss(source, target, margin):
  """mdistiller's feat_loss."""
  loss = ((source - margin) ** 2 * ((source > margin) & (target <= margin)) +
          (source - target) ** 2 * ((source > target) & (target > margin) & (target <= 0)) +
          (source - target) ** 2 * (target > 0))
  return np.abs(loss).mean(axis=0).sum()


def test_margins_are_the_expected_negative_response():
  gamma, beta = np.array([1.0, -2.0, 0.5, 0.1]), np.array([0.0, 1.0, -0.3, 1.0])
  got = ofd.margins(gamma, beta)
  for g, b, m in zip(gamma, beta, got):
    s = abs(g)
    if stats.norm.cdf(-b / s) <= 0.001:
      assert m == pytest.approx(-3 * s)  # 0.1 std, mean 1: P(x < 0) ~ 1e-23
      continue
    density = lambda x: x * stats.norm.pdf(x, b, s)
    numeric = integrate.quad(density, -np.inf, 0)[0] / stats.norm.cdf(0, b, s)
    assert m == pytest.approx(numeric, rel=1e-5)


def test_distance_matches_the_reference():
  source, target = RNG.normal(size=(4, 3, 3, 5)), RNG.normal(size=(4, 3, 3, 5))
  margin = -np.abs(RNG.normal(size=5))
  got = float(ofd.ofd_distance(jnp.asarray(source, jnp.float32),
                               jnp.asarray(target, jnp.float32), jnp.asarray(margin, jnp.float32)))
  np.testing.assert_allclose(got, np_feat_loss(source, target, margin), rtol=1e-5)


def _resnet(widths):
  return ml_collections.ConfigDict(dict(name='resnet_cifar', stage_sizes=(1, 1, 1),
                                        widths=widths, param_init='torch'))


def test_ofd_trains_with_margins_from_the_teachers_batchnorms(tmp_path):
  teacher = _digits('teacher', epochs=1)
  teacher.model = _resnet((4, 8, 8, 16))
  train.train_and_evaluate(teacher, str(tmp_path / 'teacher'))
  config = _digits('student', epochs=1)
  config.method = 'ofd'
  config.model = _resnet((4, 4, 4, 8))
  config.teacher.model = teacher.model
  config.teacher.workdir = str(tmp_path / 'teacher')
  config.ofd.pairs = ('preact_2:preact_2', 'preact_3:preact_3')
  metrics = train.train_and_evaluate(config, str(tmp_path / 'ofd'))
  assert not metrics['teacher_cache']['used']
  assert "batch's BatchNorm statistics" in metrics['teacher_cache']['reason']
  last = metrics['history'][-1]
  assert last['train_ce'] + last['train_ofd'] == pytest.approx(last['train_loss'], rel=1e-5)
  assert last['train_ofd'] > 0
  # The state holds the teacher's margins: stage 3's last block's bn2.
  variables, _ = train.checkpoint.load_variables(
      str(tmp_path / 'teacher'), train.variable_shapes(models.create(teacher.model, 10),
                                                       (8, 8, 1)))
  bn = variables['params']['stage3_block0']['bn2']
  mngr = train.checkpoint.manager(str(tmp_path / 'ofd'), create=False)
  saved = mngr.restore(mngr.latest_step())['state']['method_state']
  np.testing.assert_allclose(np.asarray(saved['margins'][1]),
                             ofd.margins(bn['scale'], bn['bias']), rtol=1e-6)
  assert (np.asarray(saved['margins'][1]) < 0).all()
  config.ofd.pairs = ('stage_2:stage_2',)  # post-activation: no BN margin before it
  with pytest.raises(errors.ConfigError, match="BatchNorm before the teacher's ReLU"):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
  cnn = _cnn_pair(tmp_path / 'cnn')
  cnn.method = 'ofd'
  cnn.ofd.pairs = ('preact_0:preact_0',)
  with pytest.raises(errors.ConfigError, match="teacher.model.name='cnn' does not have"):
    train.train_and_evaluate(cnn, str(tmp_path / 'refused'))


def test_the_teacher_runs_on_the_batchs_statistics_as_mdistillers_ofd_train():
  """mdistiller's OFD.train() puts the teacher in train mode too: the step's
  teacher maps are the teacher's with batch statistics, not its running ones."""
  teacher = models.create(_resnet((4, 8, 8, 16)), 10)
  variables = models.init(teacher, jax.random.PRNGKey(0), (8, 8, 1))
  variables = {**variables, 'batch_stats': jax.tree.map(  # running stats far from the batch's
      lambda x: x + 3.0, variables['batch_stats'])}
  images = jnp.asarray(RNG.integers(0, 256, (6, 8, 8, 1)), jnp.uint8)
  batch = (images, jnp.zeros(6, jnp.int32))
  objective = methods.get('ofd').objective([_digits('student', epochs=1)])
  assert objective.teacher_train
  step = steps.Step(model=teacher, tx=None, objective=objective, teacher=teacher,
                    augmentation=steps.Augmentation(0, False, (0.5,), (0.25,)))
  inputs = step.inputs(batch, jax.random.PRNGKey(1), variables)
  (_, want), _ = teacher.apply(variables, inputs.x, train=True, return_features=True,
                               mutable=['batch_stats'])
  np.testing.assert_allclose(inputs.teacher_out[1]['preact_3'], want['preact_3'], rtol=1e-6)
  _, eval_mode = teacher.apply(variables, inputs.x, train=False, return_features=True)
  assert np.abs(np.asarray(eval_mode['preact_3'] - want['preact_3'])).max() > 0.1
