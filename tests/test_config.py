"""Every shipped config builds and validates; bad values are refused."""

import glob
import json
import math
import os

import ml_collections
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import methods
from tests.conftest import REPO, load_config

CONFIG_FILES = sorted(glob.glob(os.path.join(REPO, 'configs', '**', '*.py'),
                                recursive=True))


@pytest.mark.parametrize('path', CONFIG_FILES, ids=lambda p: os.path.relpath(p, REPO))
def test_shipped_configs_validate(path):
  config = load_config(path)
  if config.method != 'none':
    config.teacher.workdir = '/some/teacher'
  config_lib.validate(config)
  doc = open(path).read()
  assert 'python -m kdjax.' in doc  # each config documents its run command


def test_mnist_kd_config_is_the_study_setting():
  config = load_config(os.path.join(REPO, 'configs', 'mnist', 'kd.py'))
  assert (config.distill.temperature, config.distill.alpha) == (20.0, 0.1)
  assert (config.train.epochs, config.train.batch_size) == (20, 256)
  assert (config.optimizer.name, config.optimizer.learning_rate,
          config.optimizer.weight_decay) == ('adam', 1e-3, 1e-4)
  assert config.dataset.translate == 2


def base(**updates):
  config = config_lib.get_base_config()
  for key, value in updates.items():
    node = config
    *parents, leaf = key.split('.')
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


@pytest.mark.parametrize('updates,match', [
    ({'distill.temperature': 0.0}, r'distill.temperature=0.0 is invalid; expected a finite number > 0'),
    ({'distill.temperature': -2.0}, 'distill.temperature=-2.0'),
    ({'distill.alpha': 1.5}, r'distill.alpha=1.5 is invalid; expected a number in \[0, 1\]'),
    ({'distill.alpha': -0.1}, 'distill.alpha=-0.1'),
    ({'distill.rkd_distance_weight': -1.0},
     r'distill.rkd_distance_weight=-1.0 is invalid; expected a finite number >= 0'),
    ({'distill.rkd_angle_weight': -0.5}, 'distill.rkd_angle_weight=-0.5'),
    ({'method': 'dark_magic'}, "method='dark_magic' is invalid"),
    ({'train.loop': 'while'}, "train.loop='while' is invalid"),
    ({'train.compute_dtype': 'float16'},
     r"train.compute_dtype='float16' is invalid; expected one of \('float32', 'bfloat16'\)"),
    ({'train.distributed': 'maybe'}, "train.distributed='maybe' is invalid"),
    ({'optimizer.name': 'lion'}, "optimizer.name='lion'"),
    ({'optimizer.learning_rate': 0.0}, 'optimizer.learning_rate=0.0'),
    ({'train.batch_size': 0}, 'train.batch_size=0'),
    ({'dataset.source': 'ftp'}, "dataset.source='ftp'"),
    ({'method': 'kd'}, 'needs a teacher'),
    # issue 13, items 2 and 6: accepted before, then lost checkpoints,
    # trained at chance or crashed after training
    ({'checkpoint.keep': 0}, r'checkpoint.keep=0 is invalid; expected an integer >= 1'),
    ({'model.dropout': 1.0}, r'model.dropout=1.0 is invalid; expected a rate in \[0, 1\)'),
    ({'teacher.model.dropout': -0.1}, 'teacher.model.dropout=-0.1'),
    ({'dataset.translate': -1}, 'dataset.translate=-1 is invalid; expected an integer >= 0'),
    ({'dataset.train_subset': -5}, 'dataset.train_subset=-5'),
    ({'dataset.test_subset': -1}, 'dataset.test_subset=-1'),
    ({'latency.repeats': 0}, 'latency.repeats=0 is invalid; expected an integer >= 1'),
    ({'seed': 2**32}, r'seed=4294967296 is invalid; expected an integer in \[0, 4294967295\]'),
    ({'seed': -1}, 'seed=-1'),
])
def test_bad_values(updates, match):
  with pytest.raises(errors.ConfigError, match=match):
    config_lib.validate(base(**updates))


def test_unknown_key_added_by_a_config_file():
  config = config_lib.get_base_config()
  config.distill.temprature = 4.0  # a typo in an experiment file
  with pytest.raises(errors.ConfigError, match="unknown config key 'distill.temprature'"):
    config_lib.validate(config)


def test_config_json_of_an_older_version_gets_new_defaults():
  saved = json.loads(config_lib.get_base_config().to_json())
  del saved['dataset']['test_subset']  # a key added after the run was saved
  saved['model'] = {'name': 'mlp', 'hidden': [5], 'dropout': 0.0, 'activation': 'relu',
                    'bn_residual': False}
  config = config_lib.from_json(saved)
  assert config.dataset.test_subset == 0
  assert list(config.model.hidden) == [5]
  config_lib.validate(config)
  saved['distill']['temprature'] = 3.0
  with pytest.raises(errors.ConfigError, match="unknown config key 'distill.temprature'"):
    config_lib.validate(config_lib.from_json(saved))


# issue 26, item 2: NaN fails every comparison, so range checks let it through
# (a NaN warm-up trained with the warm-up off, a NaN temperature diverged)
_FLOAT_KEYS = sorted(
    [k.path for k in methods.all_keys().values() if isinstance(k.default, float)]
    + ['optimizer.learning_rate', 'optimizer.weight_decay', 'optimizer.momentum',
       'model.dropout', 'teacher.model.dropout'])


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf], ids=repr)
@pytest.mark.parametrize('key', _FLOAT_KEYS)
def test_every_number_key_refuses_nan_and_inf(key, value):
  with pytest.raises(errors.ConfigError, match=f'^{key}={value!r} is invalid; expected '):
    config_lib.validate(base(**{key: value}))


_KEYS = {k.path: k for k in config_lib.base_keys() + tuple(methods.all_keys().values())}
_INT_KEYS = sorted(path for path, k in _KEYS.items()
                   if type(k.default) is int and k.expected.startswith('an integer >='))


@pytest.mark.parametrize('key', _INT_KEYS)
def test_every_integer_key_refuses_bools_floats_and_values_below_its_bound(key):
  spec = _KEYS[key]  # checked alone: ConfigDict fixes a field's type
  low = int(spec.expected.split('>= ')[1])
  for value in (True, float(low + 1), low - 1):
    with pytest.raises(errors.ConfigError, match=f'^{key}={value!r} is invalid; expected an '):
      spec.check(value)
  spec.check(low)
  with pytest.raises(errors.ConfigError, match=f'^{key}={low - 1} is invalid'):
    config_lib.validate(base(**{key: low - 1}))
  if 'odd' in spec.expected:
    with pytest.raises(errors.ConfigError, match=f'^{key}={low + 1} is invalid; expected an odd'):
      spec.check(low + 1)


def test_nan_is_refused_with_what_is_expected():
  with pytest.raises(errors.ConfigError, match=r'^dkd.warmup_epochs=nan is invalid; '
                     r'expected a finite number >= 0$'):
    config_lib.validate(base(**{'dkd.warmup_epochs': math.nan}))
  with pytest.raises(errors.ConfigError, match=r'^optimizer.momentum=nan is invalid; '
                     r'expected a number in \[0, 1\)$'):
    config_lib.validate(base(**{'optimizer.momentum': math.nan}))
  config = base(method='fitnet', **{'teacher.workdir': '/t'})
  config.fitnet.stage1_optimizer.learning_rate = math.inf
  with pytest.raises(errors.ConfigError, match='fitnet.stage1_optimizer.learning_rate=inf'):
    config_lib.validate(config)


@pytest.mark.parametrize('key', ['train.epochs', 'train.batch_size', 'train.devices',
                                 'checkpoint.every_epochs', 'dataset.translate',
                                 'latency.repeats', 'seed'])
def test_integer_keys_refuse_inf_and_fractions(key):
  """ConfigDict keeps an int field an int, but a config file may build its
  own sub-dicts, and inf passed `epochs >= 1` (a run that never ends)."""
  for value in (math.inf, 2.5):
    values = config_lib.get_base_config().to_dict()
    *parents, leaf = key.split('.')
    node = values
    for part in parents:
      node = node[part]
    node[leaf] = value
    with pytest.raises(errors.ConfigError, match=f'^{key}={value!r} is invalid; expected an integer'):
      config_lib.validate(ml_collections.ConfigDict(values))


def test_every_base_key_is_declared_once_with_its_meaning():
  """get_base_config, --print_config and validate read one declaration per
  key (`config.base_keys`, the methods' `Key`s); only the models' and the
  optimizer's fields are described elsewhere."""
  declared = {k.path for k in config_lib.base_keys()} | set(methods.all_keys())
  leaves = config_lib.flatten(json.loads(config_lib.get_base_config().to_json()))
  for leaf in leaves:
    assert leaf in declared or leaf.startswith(('model.', 'teacher.model.', 'optimizer.')) or any(
        leaf.startswith(k.path + '.') for k in methods.all_keys().values() if k.optimizer), leaf
  for line in config_lib.describe(config_lib.get_base_config()).splitlines():
    assert '  # ' in line, line  # every key says what it means


@pytest.mark.parametrize('key', sorted(k.path for k in config_lib.base_keys()
                                       if isinstance(k.default, bool)))
def test_every_switch_refuses_what_is_not_a_bool(key):
  for value in (1, 'yes', None):
    with pytest.raises(errors.ConfigError, match=f'^{key}={value!r} is invalid; expected True or False$'):
      _KEYS[key].check(value)
  _KEYS[key].check(False)
