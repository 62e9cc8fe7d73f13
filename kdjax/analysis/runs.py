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
            'train.devices', 'runlocal', 'distill.teacher_cache',
            'teacher.model.param_init')  # the teacher's own runs record it


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

  def test_curve(self) -> list[float]:
    """The test accuracy (%) after each epoch (metrics.json's history)."""
    return [h['test_accuracy'] for h in self.metrics['history']]

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


def run_of(run_or_npz: str):
  """The run directory of a run, or of a .npz in its predictions/; None for
  a .npz elsewhere."""
  if not run_or_npz.endswith('.npz'):
    return run_or_npz
  folder = os.path.dirname(os.path.abspath(run_or_npz))
  return os.path.dirname(folder) if os.path.basename(folder) == 'predictions' else None


def read_metrics(run: str) -> dict:
  """`run`'s metrics.json ({} where there is none), refused (one line) when
  unreadable or when it records an unfinished run (see `check_finished`)."""
  path = os.path.join(run, 'metrics.json')
  if not os.path.exists(path):
    return {}
  try:
    metrics = outputs.read_json(path)
  except (OSError, ValueError) as e:
    raise errors.DataError(f'{path} is not readable ({e}); expected the '
                           'metrics.json written by kdjax') from None
  check_finished(run, metrics)
  return metrics


def check_finished(run: str, metrics: dict):
  """Refuses a run whose metrics.json says `finished: false` (`--mode=eval`
  of a checkpoint before its last step): its accuracy is not final. Runs
  saved before the key existed ended their training, so they count as
  finished."""
  if metrics.get('finished') is False:
    raise errors.DataError(
        f'{run} is an unfinished run (metrics.json: finished false, evaluated at '
        f'step {metrics.get("evaluated_step", "?")}); expected finished runs: '
        'resume its training with the same command, or leave it out')


def read_predictions(run_or_npz: str) -> dict:
  """A run's predictions {'labels' [N], 'predictions' [N], 'logits' [N, C]},
  with its metrics.json's 'test_fingerprint' where it records one (so that
  `stats.mcnemar` refuses two different test sets whose labels agree),
  checked: a missing, truncated or empty file, or one without these arrays
  of one length, is a one-line `DataError`; so is an unfinished run."""
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
  run = run_of(run_or_npz)
  fingerprint = (read_metrics(run) if run else {}).get('test_fingerprint')
  return dict(arrays, test_fingerprint=fingerprint) if fingerprint else arrays


def load(path: str) -> Run:
  """A finished run: its config.json, metrics.json and checked predictions
  (an unfinished one is refused)."""
  try:
    config = outputs.read_json(os.path.join(path, 'config.json'))
    metrics = outputs.read_json(os.path.join(path, 'metrics.json'))
  except (OSError, json.JSONDecodeError) as e:
    raise errors.DataError(
        f'{path} is not a finished run ({e}); expected config.json and '
        'metrics.json written by kdjax') from None
  check_finished(path, metrics)
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
  """The resolved config that defines a configuration, seeds excluded. A
  run saved before a key existed is read with that key's default
  (`config.from_json`), so it groups with the same run saved since."""
  flat = config_lib.flatten(json.loads(config_lib.from_json(run.config).to_json()))
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


def display_name(runs: list[Run], parents: int = 0) -> str:
  """The run directories' common name without a seed suffix (`kd_s0` -> `kd`,
  `temperature=4.0,seed=1` -> `temperature=4.0`), after `parents` of their
  parent folders (`exp_b/kd`)."""
  names = set()
  for r in runs:
    parts = os.path.abspath(r.path).split(os.sep)
    base = re.sub(r'([_-](s|seed)\d+|,?seed=\d+)$', '', parts[-1])
    names.add('/'.join(parts[max(1, len(parts) - 1 - parents):-1] + [base]))
  return '/'.join(sorted(names))


def unique_names(run_lists: list) -> list[str]:
  """Each list of runs' `display_name`, with as many parent folders as set
  apart the lists that would share one (`runs/kd`, `exp_b/kd`), so that a
  name picks one group; lists in the same folders keep their shared name."""
  names = [display_name(rs) for rs in run_lists]
  for name in sorted(set(names)):
    same = [i for i, n in enumerate(names) if n == name]
    if len(same) < 2:
      continue
    depth = max(len(os.path.abspath(r.path).split(os.sep)) for i in same
                for r in run_lists[i])
    for parents in range(1, depth):
      longer = [display_name(run_lists[i], parents) for i in same]
      if len(set(longer)) == len(same):
        for i, n in zip(same, longer):
          names[i] = n
        break
  return names


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
    show = lambda k, v: k.symbol if isinstance(v, bool) else (
        f'{k.symbol}=' + ','.join(f'{x:g}' for x in v) if isinstance(v, (list, tuple))
        else f'{k.symbol}={v:g}')
    shown = [show(k, flat[k.path]) for k in method.keys
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


def named(groups: list, name: str, what: str) -> Group:
  """The group called `name`, or the one whose name ends in `/name`; `name`
  of no group, or of several (`kd` of `runs/kd` and `exp_b/kd`), is refused
  in one line that starts with `what` and lists the candidates."""
  found = [g for g in groups if g.name == name] or [
      g for g in groups if g.name.endswith('/' + name)]
  if not found:
    raise errors.ConfigError(f'{what} is invalid: no group is named {name!r}; '
                             f'expected one of {sorted(g.name for g in groups)}')
  if len(found) > 1:
    raise errors.ConfigError(
        f'{what} is ambiguous: {name!r} names {len(found)} groups: ' + '; '.join(
            f'{g.name} ({describe(g.first)}, e.g. {g.first.path})' for g in found) +
        '; expected the name of one (runs of different configurations in '
        'folders of different names)')
  return found[0]


def same_seed(a: Group, b: Group) -> list[tuple[Run, Run]]:
  """[(run of a, run of b)] for the seeds both groups have."""
  seeds_b = {r.seed: r for r in b.runs}
  return [(ra, seeds_b[ra.seed]) for ra in a.runs if ra.seed in seeds_b]


def group(runs: list[Run]) -> list[Group]:
  """Runs grouped by `group_key` and test set (never pooled across data),
  named by `unique_names`, in a deterministic order (by name). A run twice
  (the same parameters), or two runs of one configuration and seed, would
  count as independent seeds: refused."""
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
  names = unique_names(list(by_key.values()))
  groups = [Group(name, key, tuple(sorted(rs, key=lambda r: (r.seed, r.path))))
            for name, ((key, _), rs) in zip(names, by_key.items())]
  return sorted(groups, key=lambda g: (g.name, describe(g.first)))
