"""Hyper-parameter sweeps: a grid over config keys, run locally or on SLURM.

A sweep file (see experiments/sweeps/) has `get_sweep()` returning
  {'config': 'configs/....py', 'grid': {'distill.temperature': [1, 2], 'seed': [0, 1]},
   'set': {'distill.alpha': 0.3}}
and optionally 'points': [{'distill.temperature': 4.0, 'distill.alpha': 0.5}, ...],
settings that are not a product (a T line and an alpha line that share a
point), each crossed with the grid; a point's 'config' replaces the sweep's
(a method benchmark whose points are the study's row configs,
experiments/sweeps/rows.py). `--sweep=file.py:ARG` calls `get_sweep(ARG)`,
as config files take theirs. Each point is an ordinary run in
`<workdir>/<key=value,...>/`. With
`'vmap': True` in the sweep, points that differ only in seed and distillation
weights train together as one vmapped program (`kdjax.grid`), each still
writing its own run directory; the stacked state is kept in `<workdir>/grid/`.

  python -m kdjax.sweep --sweep=experiments/sweeps/temperature.py \\
      --workdir=runs/sweeps/temperature --set=teacher.workdir=runs/cifar10_resnet/teacher
  # sequentially: finished points are skipped, unfinished ones resume.
  python -m kdjax.sweep ... --mode=slurm --slurm_gpus=1 > sweep.sbatch
  # an sbatch job array, one task per point (`--mode=task --task=$SLURM_ARRAY_TASK_ID`).
"""

import ast
import importlib.util
import itertools
import json
import os
import re
import shlex

from absl import logging
import ml_collections

from kdjax import config as config_lib
from kdjax import errors
from kdjax import grid as grid_lib
from kdjax import train
from kdjax import workdir as workdir_lib



def _load_module(path, what):
  if not os.path.exists(path):
    raise errors.ConfigError(f'{what} {path!r} does not exist')
  try:
    spec = importlib.util.spec_from_file_location(f'kdjax_{what}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.ConfigError(
        f'{what} {path!r} cannot be loaded ({type(e).__name__}: '
        f'{" ".join(str(e).split())}); expected a Python file') from None
  return module


def _call(module, name, path, what, expected, *args):
  """`module.<name>(*args)`; a missing or raising function is one line."""
  function = getattr(module, name, None)
  if not callable(function):
    raise errors.ConfigError(f'{what} {path!r} has no {name}(); expected {expected}')
  try:
    return function(*args)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.ConfigError(
        f'{what} {path!r}: {name}() raised {type(e).__name__}: '
        f'{" ".join(str(e).split())}; expected {expected}') from e


_SWEEP = "a get_sweep() that returns {'config': ..., 'grid': {KEY: [VALUE, ...]}}"
_CONFIG = 'a get_config() that returns a ConfigDict'


def _stem(path: str) -> str:
  """The file name of 'file.py' or 'file.py:ARG' without folder or '.py'."""
  return os.path.splitext(os.path.basename(path.partition(':')[0]))[0]


def points(sweep: dict) -> list[tuple[str, dict]]:
  """(name, overrides) of every point: each of the sweep's 'points' (or one
  empty setting) crossed with the product of its 'grid', in a fixed order.
  A point's 'name' entry names its folder (with the grid's k=v after it);
  else the name is its config file's (a point's 'config', kept in its
  overrides for `point_config`), else its settings' k=v."""
  keys = sorted(sweep.get('grid', {}))
  out = []
  for setting in sweep.get('points') or [{}]:
    setting = dict(setting)
    label = setting.pop('name', None)  # a point may name itself (its folder)
    if label is None and 'config' in setting:  # else it is its config file's
      label = _stem(setting['config'])
    for values in itertools.product(*(sweep['grid'][k] for k in keys)):  # () if none
      overrides = {**setting, **dict(zip(keys, values))}
      shown = dict(zip(keys, values)) if label else overrides
      name = ','.join(([label] if label else []) + [
          f'{k.rsplit(".", 1)[-1]}={shown[k]}' for k in sorted(shown)])
      out.append((name, {**sweep.get('set', {}), **overrides}))
  return out


def one_at_a_time(centre: dict, axes: dict, first=()) -> list[dict]:
  """Settings (for a sweep's 'points') that vary one key at a time from
  `centre`, e.g. a T line at alpha=0.3 and an alpha line at T=4: each
  distinct setting once, after the settings `first`."""
  out = list(first)
  for key, values in axes.items():
    for value in values:
      setting = {**centre, key: value}
      if setting not in out:
        out.append(setting)
  return out


def parse_set(items):
  """`--set KEY=VALUE` items as {KEY: value}, values read as Python literals."""
  out = {}
  for item in items:
    key, sep, value = item.partition('=')
    if not sep:
      raise errors.ConfigError(f'--set {item!r} is invalid; expected KEY=VALUE')
    try:
      out[key] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      out[key] = value
  return out


def point_config(sweep: dict, overrides: dict) -> ml_collections.ConfigDict:
  """The base config of the sweep (or the point's own 'config') with one
  point's overrides applied."""
  overrides = dict(overrides)
  path, _, arg = overrides.pop('config', sweep['config']).partition(':')  # as config_flags
  config = _call(_load_module(path, 'config'), 'get_config', path, 'config', _CONFIG,
                 *([arg] if arg else []))
  config_lib.check_loaded(config, path)
  for key, value in overrides.items():
    *parents, leaf = key.split('.')
    node = config
    for part in parents:
      node = node[part] if part in node else None
      if node is None:
        break
    if node is None or leaf not in node:
      raise errors.ConfigError(f'sweep key {key!r} is not a config key')
    current = node[leaf]
    if isinstance(current, float) and isinstance(value, int):
      value = float(value)  # ConfigDict keeps a float field a float
    try:
      node[leaf] = value
    except TypeError:  # ConfigDict keeps a field's type: --set=train.epochs=ten
      raise errors.ConfigError(f'sweep key {key}={value!r} is invalid; expected a '
                               f'value of type {type(current).__name__}') from None
  return config


def check_sweep(sweep, path):
  """Refuses a sweep without a grid, or with a key whose values are not a
  non-empty list (an empty grid would run nothing, or make a job array
  --array=0--1)."""
  grid = sweep.get('grid', {}) if isinstance(sweep, dict) else None
  if not isinstance(grid, dict) or not (grid or sweep.get('points')):
    raise errors.ConfigError(
        f'sweep {path!r} has no grid; expected get_sweep() to return '
        "{'config': ..., 'grid': {KEY: [VALUE, ...]}} (or 'points': [...])")
  for key, values in grid.items():
    if not isinstance(values, (list, tuple)) or not values:
      raise errors.ConfigError(
          f'sweep {path!r}: grid[{key!r}]={values!r} is invalid; expected a '
          'non-empty list of values')
  if not isinstance(sweep.get('config'), str):
    raise errors.ConfigError(f"sweep {path!r} has no 'config' file path")
  settings = sweep.get('points', [])
  if not isinstance(settings, (list, tuple)) or not all(
      isinstance(p, dict) and not set(p) & set(grid) for p in settings):
    raise errors.ConfigError(
        f"sweep {path!r}: 'points' is invalid; expected a list of {{KEY: VALUE}} "
        "settings whose keys are not grid keys")
  for p in settings:
    if 'config' in p and not (isinstance(p['config'], str) and p['config']):
      raise errors.ConfigError(
          f"sweep {path!r}: point config {p['config']!r} is invalid; expected a "
          'config file path')
    if 'name' in p and not (isinstance(p['name'], str) and p['name'] != 'grid' and
                            re.fullmatch(r'[\w=,+-][\w.=,+-]*', p['name'])):
      raise errors.ConfigError(
          f"sweep {path!r}: point name {p['name']!r} is invalid; expected letters, "
          "digits and . = , + - _, not starting with '.', and not 'grid' (it names "
          "the point's folder)")
  names = [name for name, _ in points(sweep)]
  if len(set(names)) != len(names):
    raise errors.ConfigError(
        f"sweep {path!r} names a point twice; expected distinct points")


def get_sweep_file(path) -> dict:
  """The checked sweep of the sweep file `path` ('file.py:ARG': of
  `get_sweep(ARG)`; a copy: callers may change it)."""
  path, _, arg = path.partition(':')
  sweep = _call(_load_module(path, 'sweep'), 'get_sweep', path, 'sweep', _SWEEP,
                *([arg] if arg else []))
  check_sweep(sweep, path)
  return dict(sweep)


def run_point(sweep, index, workdir):
  name, overrides = points(sweep)[index]
  run_dir = os.path.join(workdir, name)
  config = point_config(sweep, overrides)
  if workdir_lib.finished_steps(run_dir) is not None:
    # finished (not an eval of a killed run): skipped only if it is this
    # point (--set may have changed)
    workdir_lib.check_same_run(run_dir, json.loads(config.to_json()))
    logging.info('%s: finished, skipped', run_dir)
    return
  train.train_and_evaluate(config, run_dir)


def run_grid(sweep, workdir):
  """All points as one vmapped program (the sweep's `'vmap': True`)."""
  names, configs = zip(*[(name, point_config(sweep, overrides))
                         for name, overrides in points(sweep)])
  grid_lib.train_grid(list(configs), [os.path.join(workdir, n) for n in names],
                      os.path.join(workdir, 'grid'))


def slurm_script(sweep_path, workdir, n_points, sets, vmap=False, partition='',
                 gpus=1, cpus=8, mem='32G', time='24:00:00', parallel=0) -> str:
  """An sbatch job array with one task per grid point (one job for a vmapped
  grid, which trains all points in one program); at most `parallel` tasks
  at once (0: no cap)."""
  cap = f'%{parallel}' if parallel else ''
  lines = ['#!/bin/bash', f'#SBATCH --job-name=kdjax-{_stem(sweep_path)}']
  if not vmap:
    lines.append(f'#SBATCH --array=0-{n_points - 1}{cap}')
  lines += [
           f'#SBATCH --gpus-per-task={gpus}',
           f'#SBATCH --cpus-per-task={cpus}',
           f'#SBATCH --mem={mem}', f'#SBATCH --time={time}',
           f'#SBATCH --output={workdir}/slurm-%A_%a.out' if not vmap else
           f'#SBATCH --output={workdir}/slurm-%j.out']
  if partition:
    lines.append(f'#SBATCH --partition={partition}')
  command = ['python', '-m', 'kdjax.sweep', f'--sweep={sweep_path}',
             f'--workdir={workdir}', '--mode=local' if vmap else '--mode=task'] + [
                 f'--set={s}' for s in sets]
  lines += ['set -euo pipefail', f'mkdir -p {shlex.quote(workdir)}',
            ' '.join(shlex.quote(c) for c in command) + (
                '' if vmap else ' --task="$SLURM_ARRAY_TASK_ID"')]
  return '\n'.join(lines) + '\n'
