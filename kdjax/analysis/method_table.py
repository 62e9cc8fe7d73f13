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
the table to those rows. Every run of one seed must name one teacher
(`params_sha256`), or the rows would not compare as the table says.

`redrawn(found, again)` is the table of a seed re-drawn: its teacher
re-trained where the committed one could not be re-made bit for bit (on
another CPU kind), its rows distilled again from that teacher.
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


def _teacher_of(name, run):
  """The params_sha256 of the teacher row itself or of a run's teacher
  (None for a run that names none: a baseline, or saved before it was
  recorded)."""
  if name == 'teacher':
    return run.metrics.get('params_sha256')
  return (run.metrics.get('teacher') or {}).get('params_sha256')


def _check_one_teacher(rows):
  """Refuses a seed whose runs name two teachers (see the module doc)."""
  for seed in sorted({s for runs in rows.values() for s in runs}):
    teachers = {}
    for name, runs in sorted(rows.items()):
      sha = _teacher_of(name, runs[seed]) if seed in runs else None
      if sha:
        teachers.setdefault(sha, runs[seed].path)
    if len(teachers) > 1:
      (a, path_a), (b, path_b) = list(teachers.items())[:2]
      raise errors.DataError(
          f'seed {seed} has runs of two teachers: {path_a} ({a[:12]}) and {path_b} '
          f'({b[:12]}); expected one teacher per seed, whose rows the table compares')


def redrawn(found, again, baseline='student') -> dict:
  """{row: {seed: Run}} of `again`'s rows (a seed's runs re-done from a
  re-trained teacher of that seed) with `found`'s runs of their other seeds,
  and `found`'s baseline, whose training takes no teacher; `found`'s other
  rows are left out (at `again`'s seeds they are the other teacher's)."""
  seeds = {s for runs in again.values() for s in runs}
  merged = {row: {**{s: r for s, r in found.get(row, {}).items() if s not in seeds}, **runs}
            for row, runs in again.items()}
  if baseline in found:
    merged[baseline] = found[baseline]
  return merged


def table(folder, baseline='student', reference='kd', rows=None) -> str:
  """The markdown method table of the runs in `folder` (see the module doc),
  or of a {row: {seed: Run}} (`redrawn`)."""
  found = folder if isinstance(folder, dict) else compare.by_row(folder)
  rows = {r: found[r] for r in (rows or found) if r in found}
  where = 'the table' if isinstance(folder, dict) else repr(folder)
  for name in (baseline, reference):
    if name not in rows:
      raise errors.ConfigError(
          f'{where} has no {name!r} runs ({name}_s<seed>); expected the '
          f'baseline and reference rows beside the methods (found {sorted(found)})')
  _check_one_teacher(rows)
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
