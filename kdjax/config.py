"""The shared base config and its validation.

Every experiment file in `configs/` starts from `get_base_config()` and changes
a few fields. The defaults are the MNIST study's (Adam 1e-3, L2 1e-4, batch
256, 20 epochs, +-2 px translation). `validate()` turns a mistyped key or an
out-of-range value into one `ConfigError` line before any work starts.

Initialisation: every study here ran PyTorch, so the model helpers default
to `param_init='torch'`, the weights the PyTorch reference model draws
(Flax's LeCun-normal kernels and zero biases cost the CIFAR CNN student
1.8 points against a plain PyTorch run of the same recipe:
docs/reproducing.md). `param_init='flax'` keeps
Flax's defaults; runs saved before the key existed are read as 'flax'.
"""

import importlib.util
import json
import os

import ml_collections

from kdjax import data
from kdjax import errors
from kdjax import methods
from kdjax import optim
from kdjax.methods import base
from kdjax.models import benchmark

LOOPS = ('auto', 'scan', 'python')
COMPUTE_DTYPES = ('float32', 'bfloat16')
DISTRIBUTED = ('auto', 'yes', 'no')
DATA_SOURCES = ('auto', 'idx', 'cifar_python', 'image_folder', 'tfds', 'sklearn')
# Sub-dicts whose keys belong to the chosen model, checked by `kdjax.models`.
_FREE_FORM = ('model', 'teacher.model')


def mlp(hidden, dropout=0.0, bn_residual=False, param_init='torch'):
  """Model config for `kdjax.models.MLP` (hidden widths, dropout rate,
  'torch' or 'flax' initialisation)."""
  return ml_collections.ConfigDict(dict(
      name='mlp', hidden=tuple(hidden), dropout=dropout, activation='relu',
      bn_residual=bn_residual, param_init=param_init))


# Optimizer sub-configs (`optimizer`, a method's optimizer keys), for config files.
optimizer = optim.config


def _one_of(path, default, help, options) -> base.Key:
  return base.Key(path, default, help, lambda v: v in options, f'one of {options}')


# Every key of a run but the methods' (their modules declare those, and
# `base.add_defaults` puts them after 'distill'), in config order:
# its MNIST-study default, its meaning (`--print_config`) and its check
# (`validate`), declared once.
_KEYS_BEFORE_METHODS = (
    base.integer('seed', 0, 'seed of initialisation, data order, augmentation and dropout',
                 high=2**32 - 1),
    # Shrinks any config to a smoke test of seconds on a CPU (see `runlocal`).
    base.flag('runlocal', False, 'shrink to a seconds-long CPU smoke test (1 epoch, 2 batches)'),
    base.Key('dataset.name', 'mnist', f'one of {sorted(data.SPECS)}'),
    # 'auto': IDX files in data_dir, else a prepared TFDS data_dir.
    _one_of('dataset.source', 'auto', f'where to read it: one of {DATA_SOURCES}',
            DATA_SOURCES),
    base.Key('dataset.data_dir', '', 'folder with IDX files, CIFAR python files, an image '
             'folder or a TFDS data_dir'),
    base.flag('dataset.download', False, 'let TFDS download (needs network and the tf extra)'),
    base.integer('dataset.validation_size', 0,
                 'training examples held out as a validation split (0 = none)'),
    base.integer('dataset.train_subset', 0, 'train on a fixed random N examples (0 = all)'),
    base.integer('dataset.test_subset', 0, 'test on a fixed random N examples (0 = all)'),
    # The MNIST study's 2; 4 on 32x32 images is the CIFAR recipes' random crop.
    base.integer('dataset.translate', 2, 'random shift of up to this many pixels, zero-filled '
                 '(4 on 32x32 = crop with 4-px padding)'),
    base.flag('dataset.flip', False, 'random horizontal flip, p = 0.5'),
    # Checked with dataset.name in `validate`.
    base.Key('dataset.labels', 'fine',
             "CIFAR-100's labels: 'fine' (100 classes) or 'coarse' (20 superclasses)"),
    # A model's fields are checked by `kdjax.models`.
    base.Key('model', mlp((800, 800)),
             'the student (a ConfigDict with name and the model fields)'),
    base.Key('method', 'none', 'the distillation method (kdjax/methods/)'),
    # Gather the teacher's outputs from a table built once per (image,
    # augmentation variant) where that pays and fits (kdjax/teacher_cache.py).
    base.flag('distill.teacher_cache', True,
              "gather the teacher's outputs from a table where that pays and fits"),
)
_KEYS_AFTER_METHODS = (
    base.Key('teacher.workdir', '', 'a finished teacher run whose newest checkpoint is loaded'),
    # Accept a teacher whose run has no metrics.json (killed, or still
    # running) or whose newest checkpoint is not its final step.
    base.flag('teacher.allow_unfinished', False,
              'accept a teacher run without metrics.json (killed, still running)'),
    base.Key('teacher.model', mlp((1200, 1200), dropout=0.2), "the teacher's model config"),
    base.integer('train.epochs', 20, 'epochs of the run (stage 2 for FitNets)', low=1),
    base.integer('train.batch_size', 256, 'global batch, split evenly over the devices', low=1),
    base.integer('train.eval_batch_size', 1000, 'batch of test-set evaluation', low=1),
    base.integer('train.devices', 0, 'data-parallel over this many devices (0 = all)'),
    # 'auto': scan, except for convolutional models on CPU, where XLA runs
    # convolutions inside a loop much slower (a one-off measurement: CIFAR CNN
    # teacher 5 vs 312 samples/s).
    _one_of('train.loop', 'auto', f'how an epoch runs: one of {LOOPS}', LOOPS),
    # 'bfloat16': layers compute in bf16 (products accumulate in float32;
    # parameters, optimizer state and losses stay float32), student and
    # teacher alike. For GPUs, and CPUs with AMX (bench.md).
    _one_of('train.compute_dtype', 'float32', f'layer compute dtype, one of '
            f'{COMPUTE_DTYPES} (parameters stay float32)', COMPUTE_DTYPES),
    # 'auto': under a multi-task SLURM step, or with KDJAX_COORDINATOR set
    # (parallel.py).
    _one_of('train.distributed', 'auto', f'join a multi-process run: one of {DISTRIBUTED}',
            DISTRIBUTED),
    base.optimizer_key('optimizer', optimizer(), 'the optimizer of the student'),
    base.integer('checkpoint.every_epochs', 1,
                 'save a checkpoint every N epochs (and at the end)', low=1),
    # keep=0 let Orbax delete every checkpoint: no eval, no use as a teacher.
    base.integer('checkpoint.keep', 2, 'keep the newest N checkpoints (>= 1)', low=1),
    base.integer('latency.batch_size', 1, 'batch of the per-run latency measurement', low=1),
    base.integer('latency.warmup', 20, 'untimed calls before timing'),
    base.integer('latency.repeats', 200, 'timed calls (>= 1)', low=1),
)


def base_keys() -> tuple:
  """Every `Key` of the base config but the methods' (`methods.all_keys`)."""
  return _KEYS_BEFORE_METHODS + _KEYS_AFTER_METHODS


def get_base_config():
  """All keys a run understands, with the MNIST study's defaults."""
  config = ml_collections.ConfigDict()
  base.add_defaults(config, _KEYS_BEFORE_METHODS)
  base.add_defaults(config)
  base.add_defaults(config, _KEYS_AFTER_METHODS)
  return config


# What the optimizer's and the models' fields mean, for `--print_config`
# (model keys: see the model's docstring in kdjax/models/).
KEY_HELP = {
    'model.param_init': "'torch': weights as the PyTorch reference model draws them; 'flax': Flax's defaults",
    'teacher.model.param_init': "the teacher's initialisation ('torch' or 'flax')",
    'optimizer.name': f'one of {optim.NAMES}',
    'optimizer.learning_rate': 'peak learning rate',
    'optimizer.weight_decay': "L2 coupled into the gradient (adam, sgd; PyTorch's weight_decay) or decoupled (adamw)",
    'optimizer.momentum': 'SGD momentum',
    'optimizer.nesterov': 'SGD with Nesterov momentum',
    'optimizer.schedule': f'learning-rate schedule, one of {optim.SCHEDULES} (cosine: to 0 over the run; multistep: x decay_factor after each of decay_epochs)',
    'optimizer.decay_epochs': "multistep: the epochs after which the rate is multiplied by decay_factor (PyTorch's MultiStepLR milestones)",
    'optimizer.decay_factor': "multistep: the factor (PyTorch's gamma)",
}


def describe(config) -> str:
  """Every key of `config` with its value and meaning, one per line."""
  help_ = {**{k.path: k.help for k in base_keys() + tuple(methods.all_keys().values())},
           **KEY_HELP, 'method': f'one of {methods.names()}'}
  lines = []
  for key, value in flatten(json.loads(config.to_json())).items():
    parts = key.split('.')
    doc = next((help_[k] for k in ('.'.join(parts[:i]) for i in range(len(parts), 0, -1))
                if k in help_), '')
    if key.startswith(_optimizer_prefixes()):
      doc = help_.get('optimizer.' + parts[-1], doc)
    lines.append(f'{key} = {value!r}' + (f'  # {doc}' if doc else ''))
  return '\n'.join(lines)


def sibling(config_file: str, name: str) -> ml_collections.ConfigDict:
  """`get_config()` of the config file `name`.py beside `config_file` (a
  config file's `__file__`): a variant of a row starts from that row."""
  path = os.path.join(os.path.dirname(os.path.abspath(config_file)), f'{name}.py')
  spec = importlib.util.spec_from_file_location(f'kdjax_config_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def cifar10_cnn():
  """Base of the comparison study's CIFAR-10 CNN runs (seeds/004 sec. 3.1):
  Adam 1e-3 (no weight decay given), batch 128, 20 epochs, horizontal flips."""
  config = get_base_config()
  config.dataset.update(name='cifar10', translate=0, flip=True)
  config.train.update(epochs=20, batch_size=128)
  config.optimizer = optimizer('adam', 1e-3, weight_decay=0.0)
  for stage in base.stages():  # the study's optimizer for the methods' stages
    base.assign(config, stage.optimizer_key,
                optimizer('adam', 1e-3, weight_decay=0.0))
  config.teacher.model = cnn((64, 128, 256), dense=(1024,), dropout=0.3)
  return config


def cifar10_resnet():
  """Base of the ResNet-34 -> MobileNetV2 study (seeds/000 sec. 2.3): SGD 0.9,
  lr 0.1, cosine, L2 1e-4 on all parameters, batch 128, crop 32 with 4-px
  padding + flip; the student's 200 epochs (the teacher config sets 100)."""
  config = get_base_config()
  config.dataset.update(name='cifar10', translate=4, flip=True)
  config.train.update(epochs=200, batch_size=128)
  config.optimizer = optimizer('sgd', 0.1, weight_decay=1e-4, schedule='cosine')
  # torchvision's initialisation of both (kdjax/models/resnet.py, mobilenet.py).
  config.model = ml_collections.ConfigDict(dict(name='mobilenet_v2', param_init='torch'))
  config.teacher.model = ml_collections.ConfigDict(dict(
      name='resnet', stage_sizes=(3, 4, 6, 3), param_init='torch'))
  return config


def cifar100_benchmark(teacher='resnet32x4', student='resnet8x4'):
  """The CIFAR-100 benchmark's recipe (RepDistiller, mdistiller; model names of
  `kdjax.models.benchmark`): SGD 0.05, momentum 0.9, L2 5e-4, batch 64, 240
  epochs, x0.1 after epochs 150, 180 and 210; crop 32 with 4-px padding +
  flip; KD at T = 4 with 0.1 CE + 0.9 KD (their -r 0.1 -a 0.9); the
  lightweight students (MobileNetV2, ShuffleV1/V2) at lr 0.01. The methods'
  stages before the main one (AB's, FSP's, FT's init) by constant SGD with
  the same momentum and L2 at the student's rate, or the rate the stage
  names for this student (`Stage.benchmark_learning_rate`), as
  RepDistiller's `helper/pretrain.py`; each method's keys as its reference's
  CIFAR-100 recipe sets them (`Method.benchmark`)."""
  config = get_base_config()
  config.dataset.update(name='cifar100', translate=4, flip=True)
  config.train.update(epochs=240, batch_size=64)
  rate = 0.01 if student in benchmark.LIGHTWEIGHT else 0.05
  config.optimizer = optimizer('sgd', rate, weight_decay=5e-4, momentum=0.9,
                               schedule='multistep', decay_epochs=(150, 180, 210))
  for stage in base.stages():
    base.assign(config, stage.optimizer_key, optimizer(
        'sgd', stage.benchmark_learning_rate(student) or rate, weight_decay=5e-4,
        momentum=0.9))
  for name in base.names():  # each method's own CIFAR-100 settings
    base.get(name).benchmark(config)
  config.model = benchmark.model(student)
  config.teacher.model = benchmark.model(teacher)
  config.distill.update(temperature=4.0, alpha=0.1)
  return config


def cifar10_cnn_ablation(epochs=40, learning_rate=0.01):
  """The ResNet study's recipe (`cifar10_resnet`) on the comparison study's
  CNN pair: its KD student (Table 2's 32/64 CNN) from the 64/128/256 CNN
  teacher; the CPU-scale answer to that study's T/alpha questions.

  Two changes, measured (experiments/results/cifar10_cnn_ablation/):
  - The peak learning rate is 0.01, not the study's 0.1. These CNNs have no
    BatchNorm; at 0.1 the teachers of seeds 1 and 2 and 7 of seed 0's 10
    students diverged (NaN loss) in their first epoch, at 0.05 still one
    student (T=8) did (lr0.1/).
  - The students train 40 epochs (the teacher 20: the study's 1:2). At 20
    the baseline student of seed 0 ended at 76.28 %, at 40 at 79.23 %
    (McNemar p = 2.6e-19; e20/, epochs/). At 80 it still gained (80.67 %,
    p = 1.9e-5), but 80-epoch grids would not fit the budget (about 16 h
    of 2 CPU cores for 3 seeds).
  Its runs were made before `model.param_init` existed and keep Flax's
  initialisation (param_init='flax'), so that they stay reproducible and resumable
  from their own commands."""
  config = cifar10_resnet()
  config.model = cnn((32, 64), dense=(256,), param_init='flax')
  config.teacher.model = cnn((64, 128, 256), dense=(1024,), dropout=0.3,
                             param_init='flax')
  config.train.epochs = epochs
  config.optimizer.learning_rate = learning_rate
  return config


def cnn(convs, dense=(), pool=(), dropout=0.0, param_init='torch'):
  """Model config for `kdjax.models.CNN` ('torch' or 'flax' initialisation)."""
  return ml_collections.ConfigDict(dict(
      name='cnn', convs=tuple(convs), dense=tuple(dense), pool=tuple(pool),
      dropout=dropout, param_init=param_init))


def _optimizer_prefixes():
  return tuple(k.path + '.' for k in methods.all_keys().values() if k.optimizer)


def runlocal(config):
  """`config` shrunk to a CPU smoke test: 1 epoch (and 1 of each method stage) of two
  batches of at most 32, 64 test examples, 2 latency calls. Returns a copy."""
  config = ml_collections.ConfigDict(config.to_dict())
  config.train.update(epochs=1, batch_size=min(config.train.batch_size, 32),
                      eval_batch_size=64)
  for stage in base.stages():
    base.assign(config, stage.epochs_key,
                min(base.lookup(config, stage.epochs_key), 1))
  config.dataset.update(train_subset=2 * config.train.batch_size, test_subset=64)
  config.latency.update(warmup=1, repeats=2)
  return config


def check_loaded(config, path):
  """Refuses what a config file's get_config() returned unless a ConfigDict
  (a plain dict would fail later as an AttributeError)."""
  if not isinstance(config, ml_collections.ConfigDict):
    raise errors.ConfigError(
        f'--config={path} cannot be used: its get_config() returned a '
        f'{type(config).__name__}; expected a ConfigDict (kdjax.config.get_base_config())')


def flatten(config_dict, prefix='') -> dict:
  """{'a.b': value} of a nested (JSON) config dict; lists become tuples."""
  flat = {}
  for key, value in config_dict.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[prefix + key] = tuple(value) if isinstance(value, list) else value
  return flat


def saved_models(saved: dict) -> dict:
  """`saved` (a config.json) with `param_init='flax'` on each model without
  one: the runs saved before the key existed were Flax-initialised."""
  saved = json.loads(json.dumps(saved))
  for node in (saved, saved.get('teacher', {})):
    if isinstance(node.get('model'), dict):
      node['model'].setdefault('param_init', 'flax')
  return saved


def from_json(saved: dict) -> ml_collections.ConfigDict:
  """A run's saved config.json as a config: the base config updated with it,
  so a run saved before a key existed gets that key's default (a model's
  `param_init` is read as 'flax', see `saved_models`)."""
  saved = saved_models(saved)
  config = get_base_config()

  def update(node, values, prefix):
    for key, value in values.items():
      path = prefix + key
      if path in _FREE_FORM or key not in node or not isinstance(value, dict):
        node[key] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value
      else:
        update(node[key], value, path + '.')

  update(config, saved, '')
  return config


def _check_keys(config, reference, prefix=''):
  for key in config.keys():
    path = f'{prefix}{key}'
    if path in _FREE_FORM:
      continue
    if key not in reference:
      raise errors.ConfigError(
          f'unknown config key {path!r}; expected one of '
          f'{sorted(prefix + k for k in reference.keys())}')
    if isinstance(reference[key], ml_collections.ConfigDict):
      _check_keys(config[key], reference[key], path + '.')


def _check_range(name, value, ok, expected):
  if not ok:
    raise errors.ConfigError(f'{name}={value!r} is invalid; expected {expected}')


def validate(config):
  """Raises `ConfigError` naming the first bad key or value in `config`:
  unknown keys, then each key's own check in config order (the base keys
  before the methods', the methods', the rest), then the checks across keys."""
  _check_keys(config, get_base_config())
  method = methods.get(config.method)
  for key in (_KEYS_BEFORE_METHODS + tuple(methods.all_keys().values())
              + _KEYS_AFTER_METHODS):
    key.check(base.lookup(config, key.path))
  _check_range('dataset.labels', config.dataset.labels,
               config.dataset.labels == 'fine' or (
                   config.dataset.labels == 'coarse' and config.dataset.name == 'cifar100'),
               "'fine', or 'coarse' with dataset.name='cifar100'")
  for prefix, model in (('model', config.model), ('teacher.model', config.teacher.model)):
    if 'dropout' in model:
      _check_range(f'{prefix}.dropout', model.dropout,
                   errors.finite(model.dropout) and 0 <= model.dropout < 1,
                   'a rate in [0, 1)')
  method.check(config)
  if method.needs_teacher and not config.teacher.workdir:
    raise errors.ConfigError(
        f'method={config.method!r} needs a teacher: set '
        '--config.teacher.workdir to a finished teacher run')
