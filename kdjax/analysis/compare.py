"""The same rows run twice, before and after a change, compared row by row.

Runs are matched by their folder names `<row>_s<seed>` in two folders (e.g. a
study's runs with Flax's and with PyTorch's initialisation). For each row:
final-epoch accuracy before and after (mean ± std over the seeds both have),
the mean change with the paired t-test over seeds (a seed's two runs share
data order and augmentation), and McNemar per seed, Holm-adjusted over every
row and seed of the table (one family).
"""

import glob
import os
import re

import numpy as np

from kdjax import errors
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats
from kdjax.analysis import tables

_NAME = re.compile(r'^(?P<row>.+)_s(?P<seed>\d+)$')


def by_row(folder) -> dict:
  """{row: {seed: Run}} of the runs `folder`/<row>_s<seed> that have a
  metrics.json (one whose metrics.json says `finished: false` is refused)."""
  rows = {}
  for path in sorted(glob.glob(os.path.join(folder, '*_s*'))):
    match = _NAME.match(os.path.basename(path))
    if match and os.path.exists(os.path.join(path, 'metrics.json')):
      rows.setdefault(match['row'], {})[int(match['seed'])] = runs_lib.load(path)
  return rows


def accuracy(run) -> float:
  """The run's final-epoch test accuracy, %."""
  return float(run.metrics['test']['accuracy'])


def same_test_set(a, b) -> bool:
  """By the recorded fingerprints; a run saved before they existed is known
  by its labels only, and compared by them."""
  if a.data.startswith('labels:') or b.data.startswith('labels:'):
    return np.array_equal(a.predictions()['labels'], b.predictions()['labels'])
  return a.data == b.data


def paired_rows(before_dir, after_dir, order=None) -> list:
  """[(row, [(seed, before Run, after Run)])] for rows and seeds in both
  folders, in `order` (row names) then alphabetically. Two runs of one test
  set only: a pair whose test fingerprints (or, for runs saved before
  fingerprints, labels) differ is refused."""
  before, after = by_row(before_dir), by_row(after_dir)
  names = [r for r in (order or ()) if r in before and r in after]
  names += sorted(set(before) & set(after) - set(names))
  rows = []
  for row in names:
    pairs = [(s, before[row][s], after[row][s]) for s in sorted(before[row])
             if s in after[row]]
    for _, a, b in pairs:
      if not same_test_set(a, b):
        raise errors.DataError(
            f'{a.path} (test set {a.data}) and {b.path} ({b.data}) were tested on '
            'different test sets; expected the same rows on the same data')
    if pairs:
      rows.append((row, pairs))
  return rows


def config_changes(a, b, compared=()) -> list:
  """[(key, value in a, value in b)] of the resolved configs of runs `a` and
  `b` (a Run each) that define their configuration (`runs.group_key`: the
  method's own keys, not where data and teacher were read from), beside the
  keys `compared` (e.g. 'param_init', any model's)."""
  old, new = (dict(runs_lib.group_key(r)) for r in (a, b))
  skip = lambda k: any(k == c or k.endswith('.' + c) for c in compared)
  return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
          if not skip(k) and old.get(k) != new.get(k)]


def summary(values) -> str:
  """'mean ± std' of accuracies over seeds (the mean alone for one)."""
  s = stats.seed_summary(values)
  return f'{s.mean:.2f}' + ('' if s.n < 2 else f' ± {s.std:.2f}')


def table(before_dir, after_dir, labels=('before', 'after'), order=None,
          compared=()) -> str:
  """The markdown table of `paired_rows`, one line per row, then the rows
  whose configs differ in more than the keys `compared` (`config_changes`)."""
  rows = paired_rows(before_dir, after_dir, order)
  tests = [stats.mcnemar(a.predictions(), b.predictions(), names=(a.path, b.path))
           for _, pairs in rows for _, a, b in pairs]
  holm = iter(stats.holm([t.p_value for t in tests]))
  tests = iter(tests)
  lines = [f'| row | seeds | {labels[0]} acc. % | {labels[1]} acc. % | Δ (pt) | paired t p | '
           f'McNemar {labels[0]} → {labels[1]} per seed: improved/degraded, p (Holm p) |',
           '|---|---|---:|---:|---:|---:|---|']
  for row, pairs in rows:
    old, new = [accuracy(a) for _, a, _ in pairs], [accuracy(b) for _, _, b in pairs]
    p = stats.paired_t_test(old, new)
    per_seed = []
    for seed, _, _ in pairs:
      t = next(tests)
      per_seed.append(f's{seed}: {t.improved}/{t.degraded}, {t.p_value:.2g} '
                      f'({next(holm):.2g})')
    lines.append(f'| {row} | {",".join(str(s) for s, _, _ in pairs)} | {summary(old)} | '
                 f'{summary(new)} | {np.mean(new) - np.mean(old):+.2f} | '
                 f'{tables.format_p(p)} | {"; ".join(per_seed)} |')
  if compared:
    notes = []
    for row, pairs in rows:
      changes = {c for _, a, b in pairs for c in config_changes(a, b, compared)}
      if changes:
        notes.append(f'- {row}: ' + ', '.join(f'`{k}` {old!r} → {new!r}'
                                              for k, old, new in sorted(changes)))
    lines += ['', 'Rows whose configs differ in more than '
              f'{", ".join(f"`{c}`" for c in compared)}: ' + ('none.' if not notes else '')]
    lines += notes
  return '\n'.join(lines) + '\n'
