"""Methods with trainable parts, stages and named loss terms (issue 28):
VID against numpy, a stage declared from a test file, the terms in the
history, and parts through kill-and-resume, grids and re-evaluation."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import errors
from kdjax import loop
from kdjax import losses
from kdjax import models
from kdjax import steps
from kdjax import train
from kdjax.methods import base
from kdjax.methods import pairs
from kdjax.methods import vid
from kdjax import outputs
from tests.test_methods import _cnn_pair

RNG = np.random.default_rng(28)


def _logits(workdir):
  return outputs.read_predictions(os.path.join(workdir, 'predictions', 'test.npz'))['logits']


def np_softplus(x):
  return np.log1p(np.exp(x))


def np_vid(mean, log_scale, target):
  """RepDistiller's VIDLoss after its regressor: 0.5 * ((t - mu)^2 / var +
  log var), var = softplus(alpha) + 1e-5 per channel, mean over everything."""
  var = np_softplus(log_scale) + 1e-5
  return np.mean(0.5 * ((mean - target) ** 2 / var + np.log(var)))


def np_adaptive_pool(x, h, w):
  """torch's adaptive_avg_pool2d for sizes that divide: block means (NHWC)."""
  b, H, W, c = x.shape
  out = np.zeros((b, h, w, c))
  for i in range(h):
    for j in range(w):
      out[:, i, j] = x[:, i * H // h:(i + 1) * H // h, j * W // w:(j + 1) * W // w].mean((1, 2))
  return out


def test_vid_nll_and_pooling_match_numpy():
  mean, target = RNG.normal(size=(3, 2, 2, 5)), RNG.normal(size=(3, 4, 4, 5))
  alpha = RNG.normal(size=(5,))
  pooled = np_adaptive_pool(target, 2, 2)
  np.testing.assert_allclose(pairs.pool_to(jnp.asarray(target, jnp.float32), (2, 2)),
                             pooled, rtol=1e-6)
  got = vid.vid_nll(jnp.asarray(mean, jnp.float32), jnp.asarray(alpha, jnp.float32),
                    jnp.asarray(pooled, jnp.float32))
  np.testing.assert_allclose(got, np_vid(mean, alpha, pooled), rtol=1e-5)
  # The code's start: sigma^2 = 5 exactly, from init_pred_var = 5.
  start = np.log(np.exp(5.0 - 1e-5) - 1.0)
  assert np_softplus(start) + 1e-5 == pytest.approx(5.0, rel=1e-12)


def test_vid_gradient_matches_finite_differences():
  mean, target = RNG.normal(size=(2, 2, 2, 3)), RNG.normal(size=(2, 2, 2, 3))
  alpha = RNG.normal(size=(3,))
  grads = jax.grad(vid.vid_nll, argnums=(0, 1))(
      jnp.asarray(mean, jnp.float32), jnp.asarray(alpha, jnp.float32),
      jnp.asarray(target, jnp.float32))
  eps = 1e-4
  for which, x, index in ((0, mean, (1, 0, 1, 2)), (0, mean, (0, 1, 1, 0)),
                          (1, alpha, (0,)), (1, alpha, (2,))):
    bump = np.zeros_like(x)
    bump[index] = eps
    args = lambda d: (mean + d, alpha, target) if which == 0 else (mean, alpha + d, target)
    numeric = (np_vid(*args(bump)) - np_vid(*args(-bump))) / (2 * eps)
    np.testing.assert_allclose(grads[which][index], numeric, rtol=2e-3, atol=1e-6)


def test_vid_objective_sums_its_pairs_and_names_its_terms():
  """CE + beta * sum over pairs; the teacher's larger map pooled to the
  regressor's size; the terms ('ce', 'vid') sum to the loss."""
  logits, labels = jnp.asarray(RNG.normal(size=(2, 10)), jnp.float32), jnp.asarray([1, 7])
  parts = {'mean_0': RNG.normal(size=(2, 2, 2, 3)), 'log_scale_0': RNG.normal(size=(3,)),
           'mean_1': RNG.normal(size=(2, 1, 1, 4)), 'log_scale_1': RNG.normal(size=(4,))}
  teacher = {'a': RNG.normal(size=(2, 4, 4, 3)), 'b': RNG.normal(size=(2, 1, 1, 4))}
  as32 = lambda tree: jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)
  total, terms = vid.loss((logits, {'method': as32(parts)}), (None, as32(teacher)), labels,
                          {'weight': 2.0}, teacher_features=('a', 'b'))
  want_vid = 2.0 * (np_vid(parts['mean_0'], parts['log_scale_0'],
                           np_adaptive_pool(teacher['a'], 2, 2))
                    + np_vid(parts['mean_1'], parts['log_scale_1'], teacher['b']))
  np.testing.assert_allclose(terms['vid'], want_vid, rtol=1e-5)
  np.testing.assert_allclose(terms['ce'], losses.cross_entropy(logits, labels))
  np.testing.assert_allclose(total, terms['ce'] + terms['vid'], rtol=1e-6)


def test_vid_trains_its_parts_resumes_them_bit_exact_and_refuses_what_cannot_pair(tmp_path):
  config = _cnn_pair(tmp_path)
  config.method = 'vid'
  config.vid.pairs = ('block_0:block_0', 'conv_0:block_0')  # 4x4 both; 8x8 pooled to 4x4
  config.train.epochs = 2
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  student = models.create(config.model, 10)
  init = models.init(student, steps.init_rng(config.seed), (8, 8, 1))['params']
  assert straight['params'] == models.param_count(init)  # the parts are not the student's
  assert set(straight['method_parts']) == {'variance_0', 'variance_1'}
  assert straight['method_parts']['variance_0'] != pytest.approx(5.0, abs=1e-6)  # trained
  history = straight['history'][-1]
  assert history['train_ce'] + history['train_vid'] == pytest.approx(
      history['train_loss'], rel=1e-5)
  # The checkpoint holds the parts: 3 convs per pair (4 -> 8 -> 8 -> 8), no bias.
  mngr = checkpoint.manager(str(tmp_path / 'straight'), create=False)
  saved = mngr.restore(mngr.latest_step())['state']['params']['method']
  assert saved['pair1_conv0']['kernel'].shape == (1, 1, 4, 8) and 'bias' not in saved['pair1_conv0']
  # Killed after epoch 1, resumed: the same student and parts.
  config.train.epochs = 1
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 2
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == straight['params_sha256']
  assert resumed['method_parts'] == straight['method_parts']
  again = train.evaluate_checkpoint(config, str(tmp_path / 'resumed'))
  assert again['method_parts'] == straight['method_parts']
  # (A grid stacks parts as it stacks CTKD's: test_methods_logit.py.)
  config.vid.pairs = ('block_0:dense_0',)
  with pytest.raises(errors.ConfigError, match='does not name a teacher feature map'):
    train.train_and_evaluate(config, str(tmp_path / 'refused'))
  assert not os.path.exists(tmp_path / 'refused')


def test_pairs_pool_only_where_one_size_divides_the_other():
  shapes = lambda **maps: {k: jax.ShapeDtypeStruct((1, *v, 4), jnp.float32)
                           for k, v in maps.items()}
  config = config_lib.get_base_config()
  config.method = 'vid'
  config.vid.pairs = ('a:x',)
  pairs.check(config, 'vid.pairs', shapes(a=(6, 6)), shapes(x=(3, 3)), pool=True)
  with pytest.raises(errors.ConfigError, match=r"pairs \(6, 6\) with \(4, 4\)"):
    pairs.check(config, 'vid.pairs', shapes(a=(6, 6)), shapes(x=(4, 4)), pool=True)
  with pytest.raises(errors.ConfigError, match=r"pairs \(6, 6\) with \(3, 3\)"):
    pairs.check(config, 'vid.pairs', shapes(a=(6, 6)), shapes(x=(3, 3)))


class _Probe(nn.Module):
  """A stage part: a Dense map of the student's embedding to the teacher's."""
  width: int

  @nn.compact
  def __call__(self, features):
    return {'mapped': nn.Dense(self.width, name='probe')(features['embedding'])}


@pytest.fixture
def staged_method():
  """A method declared here with a stage of its own: a probe (the stage's part)
  fits the teacher's embedding from the student's, the student frozen;
  then vanilla CE. Nothing in the trainer names it."""
  epochs = base.Key('staged.probe_epochs', 1, 'epochs of the probe stage',
                    lambda v: isinstance(v, int) and v >= 0, 'an integer >= 0')
  opt = base.optimizer_key('staged.probe_optimizer', config_lib.optimizer(),
                           'optimizer of the probe stage')

  def probe_loss(student, teacher, labels, hparams):
    del labels, hparams
    fit = jnp.mean(jnp.square(student[1]['method']['mapped'] - teacher[1]['embedding']))
    return fit, {'probe': fit}

  stage = base.Stage(
      'probe', epochs.path, opt.path,
      lambda config: base.Objective('probe', probe_loss, ('embedding',)),
      head=lambda config, student, teacher: _Probe(teacher['embedding'].shape[-1]),
      trainable=lambda config, student: set())
  ce = lambda student, teacher, labels, hparams: losses.cross_entropy(student[0], labels)
  base.register(base.Method('staged', ce, keys=(epochs, opt), stages=(stage,),
                            features=lambda config, options: (('embedding',), ('embedding',))))
  yield
  base._REGISTRY.pop('staged')


def test_a_stage_declared_by_a_method_runs_before_the_main_one(staged_method, tmp_path):
  del staged_method
  config = _cnn_pair(tmp_path)
  config.method = 'staged'
  config.staged.probe_epochs = 2
  metrics = train.train_and_evaluate(config, str(tmp_path / 'run'))
  probe = metrics['probe_history']
  assert len(probe) == 2 and probe[1]['train_probe'] < probe[0]['train_probe']
  assert probe[1]['train_probe'] == pytest.approx(probe[1]['train_loss'])
  assert os.path.isdir(tmp_path / 'run' / 'probe' / 'checkpoints')
  # The student was frozen in the stage: the main stage starts from its init,
  # so the run equals a plain CE run of the same seed.
  plain = config_lib.from_json(config.to_dict())
  plain.method = 'none'
  alone = train.train_and_evaluate(plain, str(tmp_path / 'plain'))
  np.testing.assert_allclose(_logits(tmp_path / 'run'), _logits(tmp_path / 'plain'),
                             rtol=0, atol=1e-5)
  assert 'probe_history' not in alone


def test_terms_reach_the_history_and_tensorboard(tmp_path):
  record = loop.epoch_record(1, 10, {'loss': np.float32(6.0), 'correct': np.float32(2.0),
                                     'count': np.float32(4.0),
                                     steps.TERM + 'kd': np.float32(4.0),
                                     steps.TERM + 'gone': np.float32(np.nan)},
                             {'loss': 1.0, 'accuracy': 50.0}, 100.0)
  assert record['train_kd'] == 1.0 and 'train_gone' not in record

  class Writer:
    scalars = {}

    def add_scalar(self, tag, value, step):
      self.scalars[tag] = (value, step)

    def flush(self):
      pass

  writer = Writer()
  loop.log_scalars(writer, record)
  assert writer.scalars['train/kd'] == (1.0, 1)


# --- CC: a head on the teacher's features too -----------------------------------

def np_cc(f_s, f_t):
  """RepDistiller's Correlation: mean over consecutive examples i, i+1 of
  sum_d |f_s - f_t|[i, d] * |f_s - f_t|[i+1, d]."""
  delta = np.abs(f_s - f_t)
  return np.mean([np.sum(delta[i] * delta[i + 1]) for i in range(len(delta) - 1)])


def test_cc_loss_matches_the_reference_formula_and_its_gradient():
  from kdjax.methods import cc  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  f_s, f_t = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
  np.testing.assert_allclose(float(cc.cc_loss(jnp.asarray(f_s, jnp.float32),
                                              jnp.asarray(f_t, jnp.float32))),
                             np_cc(f_s, f_t), rtol=1e-5)
  grad = np.asarray(jax.grad(lambda x: cc.cc_loss(x, jnp.asarray(f_t, jnp.float32)))(
      jnp.asarray(f_s, jnp.float32)))
  for index in [(0, 0), (2, 3), (4, 6)]:
    bump = np.zeros_like(f_s)
    bump[index] = 1e-6
    numeric = (np_cc(f_s + bump, f_t) - np_cc(f_s - bump, f_t)) / 2e-6
    np.testing.assert_allclose(grad[index], numeric, rtol=1e-3, atol=1e-7)


def test_cc_trains_both_embeddings_resumes_them_and_reads_the_cache(tmp_path):
  """The head embeds the student's and the teacher's features (the teacher's
  from the cache, or its forward: the same run); both embeddings train;
  kill-and-resume is bit-exact; the student's count and saved model leave
  them out."""
  config = _cnn_pair(tmp_path)
  config.method = 'cc'
  config.cc.feat_dim = 6
  config.train.epochs = 2
  config.dataset.translate = 0  # 1 variant per image: the cache pays within 2 epochs
  straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
  assert straight['teacher_cache']['used']
  history = straight['history'][-1]
  assert history['train_ce'] + history['train_cc'] == pytest.approx(history['train_loss'],
                                                                    rel=1e-5)
  mngr = checkpoint.manager(str(tmp_path / 'straight'), create=False)
  saved = mngr.restore(mngr.latest_step())['state']['params']['method']
  assert saved['embed_s']['kernel'].shape == (8, 6)  # the student's 8-d embedding
  assert saved['embed_t']['kernel'].shape == (16, 6)  # the teacher's 16-d one
  fresh = models.parts.init_head(
      train.methods.get('cc').head(config, {}, {}), steps.stage_rng(config.seed),
      train.feature_shapes(train.methods.get('cc'), models.create(config.model, 10),
                           models.create(config.teacher.model, 10), (8, 8, 1))[0],
      train.feature_shapes(train.methods.get('cc'), models.create(config.model, 10),
                           models.create(config.teacher.model, 10), (8, 8, 1))[1])
  assert not np.allclose(saved['embed_t']['kernel'], fresh['embed_t']['kernel'])  # trained
  student = models.create(config.model, 10)
  assert straight['params'] == models.param_count(models.init(
      student, steps.init_rng(config.seed), (8, 8, 1))['params'])
  config.train.epochs = 1
  train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  config.train.epochs = 2
  resumed = train.train_and_evaluate(config, str(tmp_path / 'resumed'))
  assert resumed['params_sha256'] == straight['params_sha256']
  config.distill.teacher_cache = False
  forward = train.train_and_evaluate(config, str(tmp_path / 'forward'))
  assert not forward['teacher_cache']['used']
  np.testing.assert_allclose(forward['history'][-1]['train_loss'], history['train_loss'],
                             rtol=1e-4)
