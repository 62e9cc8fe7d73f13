"""What a distillation method is, and the registry of methods.

A method declares everything about itself in one `Method`: its name, whether
it needs a teacher, its config keys (`Key`: default, meaning, check), which
of them are runtime arrays (`hparams`: a grid may vary them), the student
and teacher features its loss reads, and the pure loss. The base config, its
validation and help, the step's hyper-parameters, a grid's allowed keys, the
teacher cache and the analysis all read the registry, so adding a method is
one module that calls `register`.
"""

import copy
import dataclasses
import numbers
from typing import Any, Callable, Mapping, NamedTuple

import ml_collections
import numpy as np

from kdjax import errors
from kdjax import optim


@dataclasses.dataclass(frozen=True)
class Key:
  """A config key: a method's (its module declares it) or the base config's
  (`kdjax.config.base_keys`).

  path: dotted, e.g. 'distill.temperature' (sub-dicts are created as needed).
  valid / expected: the check of a value, and what the error says is expected.
  symbol: how a run's one-line description shows it ('T' -> 'T=4'); '' hides
    it; show_zero=False hides it while it is 0 (an optional term).
  optimizer: the value is an optimizer config (keys as `optimizer.*`).
  """
  path: str
  default: Any
  help: str
  valid: Callable[[Any], bool] = lambda value: True
  expected: str = ''
  symbol: str = ''
  show_zero: bool = True
  optimizer: bool = False  # an optimizer config (`optimizer_key`)

  def check(self, value):
    if self.optimizer:
      optim.check(self.path, value)  # names the bad field
    if not self.valid(value):
      raise errors.ConfigError(
          f'{self.path}={value!r} is invalid; expected {self.expected}')


def optimizer_key(path, default, help) -> Key:
  """A key holding an optimizer config (`optim.config`), checked field by field."""
  return Key(path, default, help, expected='an optimizer config', optimizer=True)


def number(path, default, help, *, low=None, high=None, low_open=False,
           symbol='', show_zero=True) -> Key:
  """A finite float key in [low, high] (low_open: (low, high])."""
  def valid(v):
    if not errors.finite(v):
      return False
    if low is not None and (v <= low if low_open else v < low):
      return False
    return high is None or v <= high
  if low is not None and high is not None:
    bounds = f'a number in {"(" if low_open else "["}{low:g}, {high:g}]'
  else:
    bounds = 'a finite number' + (
        f' {">" if low_open else ">="} {low:g}' if low is not None else '')
  return Key(path, default, help, valid, bounds, symbol, show_zero)


def integer(path, default, help, *, low=0, high=None, odd=False, symbol='') -> Key:
  """An integer key >= low (and <= high; odd: and odd); a bool, an inf or a
  fraction is not an integer here."""
  def valid(v):
    return (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low
            and (high is None or v <= high) and (not odd or v % 2 == 1))
  kind = f'an {"odd " if odd else ""}integer'
  return Key(path, default, help, valid,
             f'{kind} >= {low}' if high is None else f'{kind} in [{low}, {high}]', symbol)


def flag(path, default, help, *, symbol='', show_zero=True) -> Key:
  """A switch: True or False (not 0, 1 or a string)."""
  return Key(path, default, help, lambda v: isinstance(v, bool), 'True or False', symbol,
             show_zero)


class Context(NamedTuple):
  """What a stateful objective (`Objective.stateful`) gets of its step beyond
  the outputs: the batch's example indices in the training set (int32 [B], or
  None where the step was given none), a PRNG key of its own for the step (a
  function of seed and step; each device draws its own), and the device axis
  under shard_map/pmap (None on one device), over which a state that stays
  replicated must gather its updates."""
  indices: Any
  rng: Any
  axis_name: str | None


@dataclasses.dataclass(frozen=True)
class Objective:
  """A training stage's loss with its static options (hashable: it picks the
  code path of the compiled step).

  `loss(student, teacher, labels, hparams, **options)` -> the scalar loss,
  or (loss, terms): {name: scalar} of its weighted parts ('ce', 'kd', ...;
  they sum to the loss up to rounding) and of values it monitors (CTKD's
  'temperature'), which the step averages over the epoch into the history's
  `train_<name>` and TensorBoard's `train/<name>`. student and
  teacher are (logits [B, C], features {name: [B, ...]}); the student's
  features hold the method's parts' outputs under 'method' (`Method.head`);
  the teacher's is (None, None) without a teacher and holds only
  `teacher_outputs` when read from the teacher cache. `hparams`: the
  method's runtime arrays plus 'epoch' (1-based, float32, of the step).
  A `stateful` objective (a method with `Method.state`) is called with the
  keywords `state` (the method's state before the step) and `context`
  (`Context`) too, and returns (loss, terms, new state); the step carries
  the new state (no gradient flows into it). Calling an Objective returns
  (loss, terms, state) either way (the state unchanged where stateless).
  teacher_train: the teacher's forward normalises with the batch's
  statistics (`Method.teacher_train`), so no teacher cache.
  """
  name: str
  loss: Callable
  teacher_outputs: tuple = ()
  options: tuple = ()  # ((name, value), ...), passed to `loss` as keywords
  stateful: bool = False
  teacher_train: bool = False

  def __call__(self, student, teacher, labels, hparams, state=None, context=None):
    options = dict(self.options)
    if self.stateful:
      return self.loss(student, teacher, labels, hparams, state=state,
                       context=context, **options)
    out = self.loss(student, teacher, labels, hparams, **options)
    loss, terms = out if isinstance(out, tuple) else (out, {})
    return loss, terms, state


@dataclasses.dataclass(frozen=True)
class Stage:
  """A stage a method trains before its main one (FitNets' hint stage).

  It starts from the student's initial variables (or the previous stage's)
  and hands the student's on; its parts (`head`) are dropped after it.
  name: its workdir sub-folder, TensorBoard prefix and metrics.json's
    `<name>_history` / `<name>_train_seconds`.
  epochs_key, optimizer_key: the method's keys of its epochs (an integer
    >= 0; 0 skips it) and its optimizer (an `optimizer_key`).
  objective: config -> its `Objective`.
  head: as `Method.head`: the stage's own trainable parts, or None.
  trainable: (config, student module) -> the student's top-level submodules
    the stage trains (the rest stay frozen); None: all of them.
  benchmark_learning_rate: the student's name (`kdjax.models.benchmark`) ->
    the stage's learning rate in the reference's CIFAR-100 recipe where it
    is not the student's own (RepDistiller's `helper/pretrain.py`: FT's
    paraphraser at 0.01 for the ResNet and WRN students), else None
    (`config.cifar100_benchmark`).
  """
  name: str
  epochs_key: str
  optimizer_key: str
  objective: Callable
  head: Callable | None = None
  trainable: Callable = lambda config, student: None
  benchmark_learning_rate: Callable = lambda student: None


@dataclasses.dataclass(frozen=True)
class Method:
  """A distillation method (see the module docstring).

  name: the `method=` value.
  loss: `loss(student, teacher, labels, hparams, **options)`, see `Objective`.
  needs_teacher: whether `teacher.workdir` is required.
  keys: the config keys it owns (`Key`); a key may be shared with another
    method only as the same `Key` object.
  hparams: {name in the loss's hparams: config key}, float32 arrays at run
    time, so one compiled step serves every value (and a grid's points).
  options: configs -> {name: static value} of the loss (the same for every
    point of a grid, hence a list of configs).
  features: (config, options) -> (student feature names, teacher output
    names) the loss reads; the teacher's may include 'logits'. Checked to
    exist before training; the teacher's are what the teacher cache stores.
  check_features: (config, student shapes, teacher shapes) -> None, raising
    `ConfigError` where the models' features cannot serve the method.
  check: config -> None, cross-key checks beyond each key's own.
  head: (config, student feature shapes, teacher feature shapes) -> the
    `flax.linen.Module` of the method's own trainable parts (CTKD's
    temperature, a regressor), called on the student's features; its outputs
    are the student feature 'method' the loss reads (`models.WithMethodParts`).
    Its parameters are initialised from the stage's root key, trained with the
    student (by `parts_optimizer` where given), checkpointed with it, and
    left out of the saved student and its parameter count. None: no parts.
  describe_parts: (config, trained parts' params) -> {name: number} for
    metrics.json (`method_parts`).
  parts_optimizer: config -> the optimizer config (`optim.config`) of the
    parts, where the reference trains them otherwise than the student (CTKD:
    SGD, under which its gradient reversal scales the steps; Adam would
    normalise the scale away); None: the student's optimizer.
  stages: `Stage`s trained, in order, before the main one (FitNets' hint stage).
  state: (config, train labels (int [N]), student feature shapes, teacher
    feature shapes, rng, *, stage_parts, teacher_variables) -> the pytree of
    arrays the method carries between steps of its main stage (CRD's memory
    bank, indexed by the examples of the batch; FT's paraphraser, trained in
    its stage and frozen since: `stage_parts` is {stage name: its trained
    parts' params}; OFD's margins from the teacher's BatchNorms), or None:
    no state. It is a field of the train state beside
    the parameters: checkpointed and restored bit-exactly, stacked over a grid's seeds,
    replicated across devices (the loss gathers its updates over
    `Context.axis_name`). Its loss is then stateful (`Objective`).
  benchmark: config -> None, setting the method's keys to its reference's
    CIFAR-100 recipe where that differs from the keys' defaults (DIST's
    CIFAR config, CTKD's temperature in the student's scheduled SGD);
    called by `config.cifar100_benchmark` after the student's optimizer.
  teacher_train: the teacher runs in training mode in the step, its
    BatchNorms normalising with the batch's statistics (their running
    averages are left as they are), as where the reference switches the
    whole distiller, teacher included, to train() (mdistiller's OFD); its
    outputs then depend on the batch, so the teacher cache does not apply.
  """
  name: str
  loss: Callable
  needs_teacher: bool = True
  keys: tuple = ()
  hparams: Mapping[str, str] = dataclasses.field(default_factory=dict)
  options: Callable = lambda configs: {}
  features: Callable = lambda config, options: ((), ('logits',))
  check_features: Callable = lambda config, student, teacher: None
  check: Callable = lambda config: None
  head: Callable | None = None
  describe_parts: Callable = lambda config, parts: {}
  parts_optimizer: Callable | None = None
  stages: tuple = ()
  state: Callable | None = None
  benchmark: Callable = lambda config: None
  teacher_train: bool = False

  def objective(self, configs) -> Objective:
    """The stage's objective for `configs` (one run's, or a grid's points)."""
    options = self.options(configs)
    return Objective(self.name, self.loss, self.features(configs[0], options)[1],
                     tuple(sorted(options.items())), stateful=self.state is not None,
                     teacher_train=self.teacher_train)

  def hparams_of(self, config) -> dict:
    """The loss's runtime hyper-parameters of `config`, as float32 scalars."""
    return {name: np.float32(lookup(config, path)) for name, path in self.hparams.items()}


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
  """Adds `method` (replacing one of the same name); refuses a key that
  another method declares differently."""
  for other in _REGISTRY.values():
    if other.name == method.name:
      continue
    for key in method.keys:
      for theirs in other.keys:
        if theirs.path == key.path and theirs is not key:
          raise ValueError(f'method {method.name!r} declares {key.path!r}, '
                           f'which method {other.name!r} declares differently')
  _REGISTRY[method.name] = method
  return method


def find(name: str) -> Method | None:
  """The registered method `name`, or None."""
  return _REGISTRY.get(name)


def get(name: str) -> Method:
  """The registered method `name`; a `ConfigError` naming the known ones if none."""
  if name not in _REGISTRY:
    raise errors.ConfigError(
        f'method={name!r} is invalid; expected one of {names()}')
  return _REGISTRY[name]


def names() -> tuple:
  return tuple(_REGISTRY)


def all_keys() -> dict:
  """{path: Key} of every registered method's keys."""
  return {k.path: k for m in _REGISTRY.values() for k in m.keys}


def stages() -> tuple:
  """Every registered method's `Stage`s."""
  return tuple(stage for m in _REGISTRY.values() for stage in m.stages)


def lookup(config, path: str):
  node = config
  for part in path.split('.'):
    node = node[part]
  return node


def assign(config, path: str, value):
  """Sets the existing key `path` (dotted) of `config` to `value`."""
  parent, _, leaf = path.rpartition('.')
  (lookup(config, parent) if parent else config)[leaf] = value


def add_defaults(config, keys=None):
  """Sets the default of each of `keys` (every registered method's key if
  None) in `config` (a ConfigDict), creating sub-dicts as needed."""
  for key in all_keys().values() if keys is None else keys:
    *parents, leaf = key.path.split('.')
    node = config
    for part in parents:
      if part not in node:
        node[part] = ml_collections.ConfigDict()
      node = node[part]
    node[leaf] = copy.deepcopy(key.default)
  return config
