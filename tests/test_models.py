"""Parameter counts against the papers, and the feature interface."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import models
from kdjax.models import layers

MNIST = (28, 28, 1)


def count(model_config, shape=MNIST):
  model = models.create(model_config, num_classes=10)
  variables = jax.eval_shape(
      lambda: models.init(model, jax.random.PRNGKey(0), shape))
  return models.param_count(variables['params'])


@pytest.mark.parametrize('hidden,dropout,bn,expected', [
    ((1200, 1200), 0.2, False, 2_395_210),  # comparison study, MNIST teacher
    ((800, 800), 0.0, False, 1_276_810),  # student
    ((300, 300, 300, 300), 0.0, False, 509_410),  # FitNet student
    ((800, 800), 0.0, True, 1_280_010),  # sec. 6: BN + residual students
    ((300, 300, 300, 300), 0.0, True, 511_810),
])
def test_mlp_parameter_counts(hidden, dropout, bn, expected):
  assert count(config_lib.mlp(hidden, dropout=dropout, bn_residual=bn)) == expected


def test_features_do_not_change_parameters():
  model = models.create(config_lib.mlp((32, 16)), num_classes=10)
  variables = models.init(model, jax.random.PRNGKey(0), MNIST)
  x = jnp.ones((3, *MNIST))
  logits = model.apply(variables, x)
  logits2, features = model.apply(variables, x, return_features=True)
  assert jnp.array_equal(logits, logits2)
  assert set(features) == {'hidden_0', 'hidden_1', 'embedding'}
  assert features['hidden_0'].shape == (3, 32)
  assert features['embedding'].shape == (3, 16)
  assert jnp.array_equal(features['embedding'], features['hidden_1'])


def test_bn_residual_adds_input_where_widths_agree():
  model = models.create(config_lib.mlp((8, 8), bn_residual=True), num_classes=10)
  variables = models.init(model, jax.random.PRNGKey(0), (4,))
  assert set(variables) == {'params', 'batch_stats'}
  # Zero the second Dense and its BN shift: with ReLU(BN(0)) = 0 the layer
  # must return its input unchanged (the residual).
  params = jax.tree.map(lambda x: x, variables['params'])
  params['dense_1'] = jax.tree.map(jnp.zeros_like, params['dense_1'])
  params['bn_1'] = {'scale': params['bn_1']['scale'],
                    'bias': jnp.zeros_like(params['bn_1']['bias'])}
  _, feats = model.apply({**variables, 'params': params}, jnp.ones((2, 4)),
                         return_features=True)
  assert jnp.allclose(feats['hidden_1'], feats['hidden_0'])


def test_unknown_model_name():
  with pytest.raises(errors.ConfigError, match="model.name='resnet9000'"):
    models.create({'name': 'resnet9000'}, 10)


def test_unknown_model_option():
  with pytest.raises(errors.ConfigError, match="unknown option 'widths'"):
    models.create({'name': 'mlp', 'widths': (3,)}, 10)


def test_unknown_activation():
  with pytest.raises(errors.ConfigError, match="'relux'"):
    models.create({'name': 'mlp', 'hidden': (3,), 'activation': 'relux'}, 10)


CIFAR = (32, 32, 3)


@pytest.mark.parametrize('model_config,expected', [
    (config_lib.cnn((64, 128, 256), dense=(1024,), dropout=0.3), 4_576_394),
    (config_lib.cnn((32, 64), dense=(256,)), 1_070_794),
    (config_lib.cnn((32, 48, 64), pool=(True, True, False)), 83_450),
    ({'name': 'resnet', 'stage_sizes': (3, 4, 6, 3)}, 21_282_122),
    ({'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, 11_173_962),
    ({'name': 'mobilenet_v2'}, 2_236_682),
], ids=['cnn_teacher', 'cnn_student', 'cnn_fitnet', 'resnet34', 'resnet18',
        'mobilenet_v2'])
def test_cifar_parameter_counts(model_config, expected):
  assert count(model_config, CIFAR) == expected


def test_resnet34_study_count_difference_is_a_biased_stem_conv_plus_bn():
  # seeds/000 reports 21,284,042 = ours + 1,920 = 3*3*3*64 + 64 + 2*64.
  assert 21_284_042 - count({'name': 'resnet'}, CIFAR) == 3 * 3 * 3 * 64 + 64 + 2 * 64


@pytest.mark.parametrize('model_config,feature,shape', [
    (config_lib.cnn((32, 48, 64), pool=(True, True, False)), 'conv_1', (16, 16, 48)),
    (config_lib.cnn((64, 128, 256), dense=(1024,)), 'block_0', (16, 16, 64)),
    (config_lib.cnn((32, 64), dense=(256,)), 'embedding', (256,)),
    ({'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, 'stage_3', (8, 8, 256)),
    ({'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, 'embedding', (512,)),
    ({'name': 'resnet', 'stage_sizes': (2, 2, 2, 2)}, 'stem', (32, 32, 64)),
    ({'name': 'mobilenet_v2'}, 'stage_4', (4, 4, 64)),
    ({'name': 'mobilenet_v2'}, 'embedding', (1280,)),
])
def test_named_features(model_config, feature, shape):
  model = models.create(model_config, 10)
  _, features = jax.eval_shape(lambda: model.init_with_output(
      jax.random.PRNGKey(0), jnp.zeros((2, *CIFAR)), return_features=True)[0])
  assert features[feature].shape == (2, *shape)
  assert set(model.trunk(feature)) <= set(jax.eval_shape(
      lambda: models.init(model, jax.random.PRNGKey(0), CIFAR))['params'])


@pytest.mark.parametrize('ties,shape', [(False, (3, 6, 8, 5)), (True, (3, 6, 8, 5)),
                                        (False, (2, 7, 5, 3))])
def test_max_pool_2x2_matches_flax_max_pool(ties, shape):
  """Values and gradients equal `nn.max_pool`'s, ties (ReLU zeros, equal
  maxima) and odd sizes included: the gradient goes to the first maximum of
  a window; an odd last row/column is dropped and gets no gradient."""
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  if ties:
    x = jnp.round(jax.nn.relu(x))  # many 0s and 1s: windows with tied maxima
  g = jax.random.normal(jax.random.PRNGKey(1), (shape[0], shape[1] // 2,
                                               shape[2] // 2, shape[3]))
  reference = lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))
  y, vjp = jax.vjp(layers.max_pool_2x2, x)
  y_ref, vjp_ref = jax.vjp(reference, x)
  np.testing.assert_array_equal(y, y_ref)
  np.testing.assert_array_equal(vjp(g)[0], vjp_ref(g)[0])


@pytest.mark.parametrize('model_config,shape', [
    (config_lib.mlp((32, 32), bn_residual=True), MNIST),
    (config_lib.cnn((8, 16), dense=(16,)), (32, 32, 3)),
])
def test_bfloat16_compute_keeps_float32_parameters(model_config, shape):
  """train.compute_dtype=bfloat16: same float32 parameter tree, float32
  logits within bf16 rounding of the float32 model's."""
  f32 = models.create(model_config, 10)
  bf16 = models.create(model_config, 10, dtype='bfloat16')
  variables = models.init(f32, jax.random.PRNGKey(0), shape)
  assert jax.tree.map(lambda a: a.dtype, models.init(bf16, jax.random.PRNGKey(0), shape)) == (
      jax.tree.map(lambda a: a.dtype, variables))
  x = jax.random.normal(jax.random.PRNGKey(1), (4, *shape))
  want, got = f32.apply(variables, x), bf16.apply(variables, x)
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, want, atol=0.05 * float(jnp.abs(want).max()))
  assert not np.array_equal(got, want)  # it did compute in bf16


PROTOCOL_CASES = {  # a small instance of every registered model
    'mlp': (config_lib.mlp((8, 6), bn_residual=True), MNIST),
    'cnn': (config_lib.cnn((4, 6), dense=(8,)), (32, 32, 3)),
    'resnet': (ml_collections.ConfigDict(dict(name='resnet', stage_sizes=(1, 1), width=4)),
               (32, 32, 3)),
    'mobilenet_v2': (ml_collections.ConfigDict(dict(name='mobilenet_v2')), (32, 32, 3)),
    'resnet_cifar': (ml_collections.ConfigDict(dict(name='resnet_cifar', stage_sizes=(1, 1, 1))),
                     (32, 32, 3)),
    'wrn': (ml_collections.ConfigDict(dict(name='wrn', depth=10, widen=1)), (32, 32, 3)),
    'vgg': (ml_collections.ConfigDict(dict(name='vgg', depth=8)), (32, 32, 3)),
    'mobilenet_v2_cifar': (ml_collections.ConfigDict(dict(name='mobilenet_v2_cifar')),
                           (32, 32, 3)),
    'shufflenet': (ml_collections.ConfigDict(dict(name='shufflenet', version=2)), (32, 32, 3)),
}


def test_every_registered_model_has_a_protocol_case():
  assert sorted(PROTOCOL_CASES) == sorted(models.MODELS)


def _equations(jaxpr):
  """Every equation of `jaxpr`, nested ones (jit, custom_jvp) included."""
  for eqn in jaxpr.eqns:
    yield eqn
    for param in eqn.params.values():
      inner = getattr(param, 'jaxpr', param)
      if hasattr(inner, 'eqns'):
        yield from _equations(inner)


@pytest.mark.parametrize('name', sorted(PROTOCOL_CASES))
def test_model_protocol(name):
  """The contract in kdjax/models/__init__.py, for every registered model."""
  model_config, shape = PROTOCOL_CASES[name]
  model = models.create(model_config, num_classes=7, dtype='bfloat16')
  x = jnp.zeros((2, *shape))
  init = lambda **kw: jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x, **kw))
  variables = init()
  assert jax.tree.structure(variables) == jax.tree.structure(init(return_features=True))
  assert {p.dtype for p in jax.tree.leaves(variables['params'])} == {jnp.dtype('float32')}
  apply = lambda v: model.apply(v, x, return_features=True)
  logits, features = jax.eval_shape(apply, variables)
  assert logits.shape == (2, 7) and logits.dtype == jnp.float32
  # Every matmul and convolution of the forward pass reads bfloat16 operands.
  products = [e for e in _equations(jax.make_jaxpr(apply)(variables).jaxpr)
              if e.primitive.name in ('dot_general', 'conv_general_dilated')]
  assert products and all(v.aval.dtype == jnp.bfloat16 for e in products for v in e.invars)
  assert features['embedding'].ndim == 2 and features['embedding'].shape[0] == 2
  assert all(f.shape[0] == 2 for f in features.values())
  if name in models.CONVOLUTIONAL:
    assert any(f.ndim == 4 for f in features.values()), 'no feature maps'
  has_bn = 'batch_stats' in variables
  fields = {f.name for f in dataclasses.fields(models.MODELS[name])}
  assert has_bn == ('axis_name' in fields), 'BatchNorm models take axis_name'
  if has_bn:
    assert models.create(model_config, 7, axis_name='data').axis_name == 'data'
  for feature in features:
    trunk = model.trunk(feature)
    assert trunk and trunk <= set(variables['params']), feature
