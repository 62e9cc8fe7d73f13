"""A study's method table: every method's row against the baseline student
and against vanilla KD, per seed and across seeds.

`table(folder)` reads the runs `folder`/<row>_s<seed> (experiments/run_study.sh
writes them) and returns markdown: per row the final-epoch test accuracy
(mean ± std over seeds and the 95 % t interval of the mean), the paired
t-test across seeds against the baseline and against KD (Holm over those
tests), McNemar per seed against each (Holm over every McNemar test of the
table), and the median training seconds per run (a median: one run's clock
may jump). Rows are in the registry's order of their methods (the teacher
first, then the baseline), each described by its own config; `rows` limits
the table to those rows.
"""

import numpy as np

from kdjax import errors
from kdjax import methods
from kdjax.analysis import compare
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats
from kdjax.analysis import tables


def _order(rows, baseline):
  """Row names: teacher, baseline, then by method (registry order), LS last."""
  def key(name):
    run = next(iter(rows[name].values()))
    method = run.config.get('method', 'none')
    ls = bool(run.config.get('distill', {}).get('logit_standardize', False))
    rank = methods.names().index(method) if method in methods.names() else len(methods.names())
    return (name != 'teacher', name != baseline, rank, ls, name)
  return sorted(rows, key=key)


def _train_seconds(run) -> float:
  m = run.metrics
  return m.get('train_seconds', np.nan) + m.get('stage1_train_seconds', 0.0)


def table(folder, baseline='student', reference='kd', rows=None) -> str:
  """The markdown method table of the runs in `folder` (see the module doc)."""
  found = compare.by_row(folder)
  rows = {r: found[r] for r in (rows or found) if r in found}
  for name in (baseline, reference):
    if name not in rows:
      raise errors.ConfigError(
          f'{folder!r} has no {name!r} runs ({name}_s<seed>); expected the '
          f'baseline and reference rows beside the methods (found {sorted(found)})')
  order = _order(rows, baseline)
  compared = [r for r in order if r not in ('teacher', baseline)]
  mcnemar, paired = {}, {}
  for row in compared:
    for against in (baseline, reference):
      if row == against:
        continue
      seeds = sorted(set(rows[row]) & set(rows[against]))
      for seed in seeds:
        a, b = rows[against][seed], rows[row][seed]
        if not compare.same_test_set(a, b):
          raise errors.DataError(f'{a.path} and {b.path} were tested on different '
                                 'test sets; expected one study on one test set')
        mcnemar[row, against, seed] = stats.mcnemar(
            a.predictions(), b.predictions(), names=(a.path, b.path))
      paired[row, against] = (np.mean([compare.accuracy(rows[row][s]) -
                                       compare.accuracy(rows[against][s]) for s in seeds]),
                              stats.paired_t_test([compare.accuracy(rows[against][s]) for s in seeds],
                                                  [compare.accuracy(rows[row][s]) for s in seeds]))
  holm_m = dict(zip(mcnemar, stats.holm([t.p_value for t in mcnemar.values()])))
  finite = [k for k, (_, p) in paired.items() if not np.isnan(p)]
  holm_p = dict(zip(finite, stats.holm([paired[k][1] for k in finite])))

  def versus(row, against):
    if (row, against) not in paired:
      return '—', '—'
    delta, p = paired[row, against]
    fmt = tables.format_p
    tests = [f's{s}: {t.improved}/{t.degraded}, {fmt(t.p_value)} ({fmt(holm_m[k])})'
             for k, t in mcnemar.items() if k[:2] == (row, against) for s in (k[2],)]
    return (f'{delta:+.2f} (p {fmt(p)}, Holm {fmt(holm_p.get((row, against)))})',
            '; '.join(tests))

  lines = [
      f'| row | configuration | seeds | acc. % | 95 % CI | Δ vs {baseline} (pt) | '
      f'McNemar {baseline} → row: improved/degraded, p (Holm) | Δ vs {reference} (pt) | '
      f'McNemar {reference} → row | train s/run (median) |',
      '|---|---|---|---:|---|---|---|---|---|---:|']
  for row in order:
    runs = [rows[row][s] for s in sorted(rows[row])]
    acc = [compare.accuracy(r) for r in runs]
    s = stats.seed_summary(acc)
    ci = '—' if s.n < 2 else f'{s.low:.2f}–{s.high:.2f}'
    vb, mb = versus(row, baseline)
    vr, mr = versus(row, reference)
    lines.append(
        f'| {row} | {runs_lib.describe(runs[0])} | {",".join(str(r.seed) for r in runs)} | '
        f'{compare.summary(acc)} | {ci} | {vb} | {mb or "—"} | {vr} | {mr or "—"} | '
        f'{np.median([_train_seconds(r) for r in runs]):.0f} |')
  return '\n'.join(lines) + '\n'
