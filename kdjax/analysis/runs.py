"""Finished runs on disk, grouped by their resolved config so seeds aggregate."""

import dataclasses
import glob
import hashlib
import json
import os
import re
import zipfile
import zlib

import numpy as np

from kdjax import config as config_lib
from kdjax import errors
from kdjax import methods
from kdjax import outputs

# Keys that do not change what a run computes (or that differ per seed).
# (The teacher cache changes only the rounding of a differently fused program.)
_IGNORED = ('seed', 'dataset.data_dir', 'dataset.source', 'dataset.download',
            'teacher.workdir', 'checkpoint.', 'latency.', 'train.eval_batch_size',
            'train.devices', 'runlocal', 'distill.teacher_cache')


def _own_keys(method_name) -> tuple:
  """Prefixes of the config keys that matter for `method_name`: its own keys
  (every registered method's other keys are ignored)."""
  method = methods.base.find(method_name)
  return tuple(k.path for k in method.keys) if method else ()


@dataclasses.dataclass(frozen=True)
class Run:
  path: str
  config: dict
  metrics: dict
  data: str  # the test set: its fingerprint, or a digest of the run's labels

  @property
  def seed(self) -> int:
    return int(self.config.get('seed', 0))

  def predictions(self) -> dict:
    return read_predictions(self.path)

  def wall(self) -> str:
    """The recorded wall time as 'N' seconds, '≥ N' for a resumed run (its
    last segment only), '—' where none was recorded."""
    seconds, resumed = read_wall(self.path)
    return '—' if seconds is None else f'≥ {seconds}' if resumed else str(seconds)


def read_wall(run: str) -> tuple:
  """(seconds, resumed) from the wall_seconds.txt the study scripts write (the
  seconds, then a note when the run resumed from a checkpoint, so that the
  seconds are its last segment's only); (None, False) where there is none."""
  path = os.path.join(run, 'wall_seconds.txt')
  if not os.path.exists(path):
    return None, False
  with open(path) as f:
    seconds, _, note = f.read().partition('\n')
  return int(seconds), bool(note.strip())


def predictions_path(run_or_npz: str) -> str:
  if run_or_npz.endswith('.npz'):
    return run_or_npz
  return os.path.join(run_or_npz, 'predictions', 'test.npz')


def read_predictions(run_or_npz: str) -> dict:
  """A run's predictions {'labels' [N], 'predictions' [N], 'logits' [N, C]},
  checked: a missing, truncated or empty file, or one without these arrays
  of one length, is a one-line `DataError`."""
  path = predictions_path(run_or_npz)
  try:
    arrays = outputs.read_predictions(path)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
    raise errors.DataError(f'{path}: no readable predictions ({type(e).__name__}: '
                           f'{" ".join(str(e).split())}); expected a predictions '
                           '.npz written by kdjax') from None
  missing = [k for k in ('labels', 'predictions') if k not in arrays]
  n = len(arrays.get('labels', ()))
  if missing or n == 0 or len(arrays['predictions']) != n or (
      'logits' in arrays and len(arrays['logits']) != n):
    raise errors.DataError(
        f'{path}: predictions with arrays {sorted(arrays)} of lengths '
        f'{[len(a) for a in arrays.values()]}; expected labels, predictions '
        '(and logits) of one length N >= 1')
  return arrays


def load(path: str) -> Run:
  """A finished run: its config.json, metrics.json and checked predictions."""
  try:
    config = outputs.read_json(os.path.join(path, 'config.json'))
    metrics = outputs.read_json(os.path.join(path, 'metrics.json'))
  except (OSError, json.JSONDecodeError) as e:
    raise errors.DataError(
        f'{path} is not a finished run ({e}); expected config.json and '
        'metrics.json written by kdjax') from None
  labels = read_predictions(path)['labels']
  config = config_lib.saved_models(config)  # a model without param_init was Flax's
  return Run(path, config, metrics, metrics.get('test_fingerprint') or _labels_key(labels))


def _labels_key(labels) -> str:
  return 'labels:' + hashlib.sha256(
      np.ascontiguousarray(labels, np.int32).tobytes()).hexdigest()[:16]


def _reconcile(runs: list[Run]) -> list[Run]:
  """Runs saved before `test_fingerprint` existed know their test set only
  by its labels: each takes the fingerprint of the runs whose labels are
  the same, when those agree on one (else it keeps its labels' key)."""
  by_labels = {}
  for run in runs:
    if not run.data.startswith('labels:'):
      by_labels.setdefault(_labels_key(run.predictions()['labels']), set()).add(run.data)
  return [dataclasses.replace(run, data=next(iter(by_labels[run.data])))
          if len(by_labels.get(run.data, ())) == 1 else run for run in runs]


def load_glob(*patterns: str) -> list[Run]:
  """The finished runs (directories with metrics.json) the glob(s) match."""
  paths = set()
  for pattern in patterns:
    found = {p for p in glob.glob(pattern)
             if os.path.exists(os.path.join(p, 'metrics.json'))}
    if not found:
      raise errors.DataError(f'--runs={pattern!r} matches no finished run '
                             '(a directory with metrics.json)')
    paths |= found
  return _reconcile([load(p) for p in sorted(paths)])


def group_key(run: Run) -> tuple:
  """The resolved config that defines a configuration, seeds excluded."""
  flat = config_lib.flatten(run.config)
  method = flat.get('method', 'none')
  method_keys = tuple(methods.all_keys())
  own = _own_keys(method)
  relevant = {}
  for key, value in flat.items():
    if key.startswith(_IGNORED):
      continue
    if key.startswith(method_keys) and not key.startswith(own):
      continue
    if key.startswith('teacher.') and method == 'none':
      continue
    relevant[key] = value
  return tuple(sorted(relevant.items()))


def display_name(runs: list[Run]) -> str:
  """The run directories' common name without a seed suffix (`kd_s0` -> `kd`,
  `temperature=4.0,seed=1` -> `temperature=4.0`)."""
  names = {re.sub(r'([_-](s|seed)\d+|,?seed=\d+)$', '',
                  os.path.basename(os.path.normpath(r.path))) for r in runs}
  return '/'.join(sorted(names))


def describe(run: Run) -> str:
  """A one-line description of a configuration, e.g. 'mlp 800-800 +BN/res, kd T=20 a=0.1'."""
  c, model = run.config, run.config['model']
  text = model['name']
  if 'hidden' in model:
    text += ' ' + '-'.join(str(h) for h in model['hidden'])
  if 'convs' in model:  # conv widths, then hidden dense widths after '+'
    text += ' ' + '-'.join(str(c) for c in model['convs']) + ''.join(
        f'+{d}' for d in model.get('dense', ()))
  if model.get('bn_residual'):
    text += ' +BN/res'
  method = methods.base.find(c.get('method', 'none'))
  if method is not None and method.name != 'none':
    flat = config_lib.flatten(c)
    shown = [f'{k.symbol}={flat[k.path]:g}' for k in method.keys
             if k.symbol and k.path in flat and (k.show_zero or flat[k.path])]
    text += ', ' + ' '.join([method.name] + shown)
  return text


@dataclasses.dataclass(frozen=True)
class Group:
  name: str
  key: tuple
  runs: tuple  # sorted by seed

  @property
  def first(self) -> Run:
    return self.runs[0]

  @property
  def data(self) -> str:
    return self.first.data

  @property
  def method(self) -> str:
    return self.first.config.get('method', 'none')

  @property
  def model(self) -> dict:
    return self.first.config['model']


def same_seed(a: Group, b: Group) -> list[tuple[Run, Run]]:
  """[(run of a, run of b)] for the seeds both groups have."""
  seeds_b = {r.seed: r for r in b.runs}
  return [(ra, seeds_b[ra.seed]) for ra in a.runs if ra.seed in seeds_b]


def group(runs: list[Run]) -> list[Group]:
  """Runs grouped by `group_key` and test set (never pooled across data), in
  a deterministic order (by name). A run twice (the same parameters), or two
  runs of one configuration and seed, would count as independent seeds:
  refused."""
  by_params = {}
  for run in runs:
    digest = run.metrics.get('params_sha256')
    if digest and digest in by_params:
      raise errors.DataError(
          f'{by_params[digest].path} and {run.path} hold the same parameters '
          f'(params_sha256 {digest[:12]}); expected distinct runs, not copies')
    by_params.setdefault(digest, run)
  by_key = {}
  for run in runs:
    by_key.setdefault((group_key(run), run.data), []).append(run)
  for rs in by_key.values():
    seeds = {}
    for run in rs:
      if run.seed in seeds:
        raise errors.DataError(
            f'{seeds[run.seed].path} and {run.path} are the same configuration '
            f'and seed {run.seed}; expected one run per (configuration, seed)')
      seeds[run.seed] = run
  groups = [Group(display_name(rs), key, tuple(sorted(rs, key=lambda r: (r.seed, r.path))))
            for (key, _), rs in by_key.items()]
  return sorted(groups, key=lambda g: (g.name, describe(g.first)))
