"""The paper-style report of a set of runs: tables, McNemar tests, plots.

`write(groups, out_dir)` writes report.md (deterministic: the same runs give
byte-identical markdown) and PNG plots beside it.
"""

import math
import numbers
import os
import unicodedata

import numpy as np

from kdjax import methods
from kdjax import outputs
from kdjax.analysis import latency as latency_lib
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats


def _acc(run):
  return run.metrics['test']['accuracy']


def _lat(run):
  return run.metrics['latency']['ms_per_sample_mean']


def _mean(values):
  return float(np.mean(values))


def _wilson_pct(test_metrics):
  """'low–high' (%) Wilson 95 % interval of a run's test accuracy."""
  right = test_metrics['count'] - test_metrics['errors']
  low, high = stats.wilson_interval(right, test_metrics['count'])
  return f'{100 * low:.2f}–{100 * high:.2f}'


def find_teacher(groups):
  """The group trained on hard labels whose model the distilled runs used."""
  plain = [g for g in groups if g.method == 'none']
  for g in groups:
    if g.method != 'none':
      teacher_model = g.first.config.get('teacher', {}).get('model')
      for p in plain:
        if p.model == teacher_model:
          return p
  return max(plain, key=lambda g: g.first.metrics['params'], default=None)


def _twin(g, groups, **model_changes):
  want = dict(g.key)
  for k, v in model_changes.items():
    want[f'model.{k}'] = v
  return next((h for h in groups if dict(h.key) == want and h.data == g.data), None)


def default_comparisons(groups):
  """(A, B) pairs: each distilled group vs its hard-label baseline, and each
  BN+residual group vs the same configuration without it."""
  teacher = find_teacher(groups)
  baselines = [g for g in groups if g.method == 'none' and g is not teacher]
  pairs = []
  for g in groups:
    if g.method == 'none':
      continue
    same_bn = [b for b in baselines if b.data == g.data
               if bool(b.model.get('bn_residual')) == bool(g.model.get('bn_residual'))]
    same_model = [b for b in same_bn if b.model == g.model]
    base = (same_model or same_bn or [None])[0]
    if base is not None:
      pairs.append((base, g))
  for g in groups:
    if g.model.get('bn_residual'):
      twin = _twin(g, groups, bn_residual=False)
      if twin is not None:
        pairs.append((twin, g))
  return pairs


def _fmt_p(p):
  return f'{p:.2g}' if p < 0.001 else f'{p:.4f}'


def arch_latency(latency, group, batch='1'):
  """(median ms/sample, [speed-up vs the reference, low, high]) of the
  architecture `group` uses, from `analysis latency`'s result: the row that
  measured the group, else the row of the same architecture (a method added
  later on a measured student); None if absent."""
  rows = (latency or {}).get('batches', {}).get(batch, [])
  config = group.first.config
  key = latency_lib.arch_key(config['model'], latency_lib.IMAGE_SHAPES.get(
      config['dataset']['name'], ()), config.get('train', {}).get('compute_dtype', 'float32'))
  for row in ([r for r in rows if group.name in r['runs']]
              + [r for r in rows if latency_lib.arch_key(r['model'], r['image_shape'],
                                                         r['dtype']) == key]):
    return row['median_ms'], row['speedup_vs_reference']
  return None


def _group_latency(g, latency):
  found = arch_latency(latency, g)
  return found[0] if found else _mean([_lat(r) for r in g.runs])


def _summary_table(groups, teacher, latency=None):
  t_acc = _mean([_acc(r) for r in teacher.runs]) if teacher else math.nan
  t_lat = _mean([_lat(r) for r in teacher.runs]) if teacher else math.nan
  reference = teacher is not None and latency and teacher.name in latency.get(
      'reference', [])
  t_params = teacher.first.metrics['params'] if teacher else math.nan
  lines = ['| Model | Configuration | Seeds | Err. | Acc. (%) ± 95% CI | Params | '
           'Compression vs teacher | Teacher recovery (%) | Lat. (ms/sample) | '
           'Speed-up vs teacher |',
           '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
  for g in groups:
    accs = [_acc(r) for r in g.runs]
    errs = [r.metrics['test']['errors'] for r in g.runs]
    if len(g.runs) > 1:
      s = stats.seed_summary(accs)
      acc = f'{s.mean:.2f} ± {s.high - s.mean:.2f}'
    else:
      acc = f'{accs[0]:.2f} ({_wilson_pct(g.first.metrics["test"])})'
    params = g.first.metrics['params']
    found = arch_latency(latency, g)
    if found and reference:  # one number per architecture, ratios with intervals
      (lat, (s, low, high)) = found
      speed = f'{s:.2f}× ({low:.2f}–{high:.2f})'
    else:
      lat = _mean([_lat(r) for r in g.runs])
      speed = f'{t_lat / lat:.2f}×'
    compression, recovery = f'{t_params / params:.2f}×', f'{100 * _mean(accs) / t_acc:.2f}'
    if not teacher:  # no teacher among the runs: nothing to compare with
      compression = recovery = speed = '—'
    lines.append(
        f'| {g.name} | {runs_lib.describe(g.first)} | {len(g.runs)} | '
        f'{errs[0] if len(errs) == 1 else f"{_mean(errs):.1f}"} | {acc} | {params:,} | '
        f'{compression} | {recovery} | {lat:.3f} | {speed} |')
  return lines


def _run_table(groups):
  lines = ['| Model | Seed | Acc. (%) | Wilson 95% CI | Errors | This run\'s own '
           'latency (ms/sample) |',
           '|---|---:|---:|---:|---:|---:|']
  for g in groups:
    for r in g.runs:
      m = r.metrics['test']
      lines.append(f'| {g.name} | {r.seed} | {m["accuracy"]:.2f} | '
                   f'{_wilson_pct(m)} | {m["errors"]} | {_lat(r):.3f} |')
  return lines


def mcnemar_rows(pairs):
  """Per-seed McNemar tests of each (A, B) pair, with Holm-adjusted p-values."""
  rows = [(a, b, ra.seed, stats.mcnemar(ra.predictions(), rb.predictions(),
                                        names=(ra.path, rb.path)))
          for a, b in pairs for ra, rb in runs_lib.same_seed(a, b)]
  adjusted = stats.holm([r[3].p_value for r in rows]) if rows else []
  return [(*row, p) for row, p in zip(rows, adjusted)]


def _mcnemar_table(rows):
  lines = ['| A → B | Seed | Improved | Degraded | χ² | p (χ²) | p (exact) | Test | '
           'p (Holm) | Sig. at 0.05 after Holm |',
           '|---|---:|---:|---:|---:|---:|---:|---|---:|---|']
  for a, b, seed, r, p_holm in rows:
    lines.append(
        f'| {a.name} → {b.name} | {seed} | {r.improved} | {r.degraded} | '
        f'{r.chi2:.3f} | {_fmt_p(r.p_chi2)} | {_fmt_p(r.p_exact)} | {r.test} | '
        f'{_fmt_p(p_holm)} | {"**yes**" if p_holm < 0.05 else "no"} |')
  return lines


def _paired_table(pairs):
  """Paired t-tests of accuracy across seeds, Holm-corrected over the pairs."""
  rows = []
  for a, b in pairs:
    common = runs_lib.same_seed(a, b)
    if common:
      acc_a, acc_b = [_acc(x) for x, _ in common], [_acc(y) for _, y in common]
      rows.append((a, b, len(common), _mean(acc_b) - _mean(acc_a),
                   stats.paired_t_test(acc_a, acc_b)))
  testable = [r[4] for r in rows if not math.isnan(r[4])]
  adjusted = iter(stats.holm(testable) if testable else [])
  lines = ['| A → B | Seeds | Δ acc. (pt, mean) | Paired t-test p | p (Holm) |',
           '|---|---:|---:|---:|---:|']
  for a, b, n, delta, p in rows:
    holm = 'n/a' if math.isnan(p) else _fmt_p(next(adjusted))
    lines.append(f'| {a.name} → {b.name} | {n} | {delta:+.2f} | '
                 f'{"n/a" if math.isnan(p) else _fmt_p(p)} | {holm} |')
  return lines


def sweep_keys(method_name) -> tuple:
  """The keys of a registered method that a sweep plot can vary: those with a
  symbol and a number for a value (`methods.base.Key`), in its own order."""
  method = methods.base.find(method_name)
  if method is None:
    return ()
  return tuple(k for k in method.keys if k.symbol and isinstance(k.default, numbers.Real)
               and not isinstance(k.default, bool))


def sweeps(groups):
  """[(key, [(value, group)] by value)]: for each method's `sweep_keys`, the
  groups of that method that differ only in that key (two or more), in the
  registry's order of methods and keys."""
  found = []
  for method in methods.names():
    for key in sweep_keys(method):
      buckets = {}
      for g in groups:
        values = dict(g.key)
        if g.method != method or key.path not in values:
          continue
        rest = tuple(kv for kv in g.key if kv[0] != key.path)
        buckets.setdefault(rest, []).append((values[key.path], g))
      found += [(key, sorted(v, key=lambda t: t[0])) for v in buckets.values() if len(v) > 1]
  return found


def _ascii(symbol) -> str:
  """A file-name form of a key's symbol: 'α' -> 'alpha', 'τmin' -> 'taumin'."""
  return ''.join(c if c.isascii() else
                 (unicodedata.name(c, '').split() or [f'u{ord(c):04x}'])[-1].lower()
                 for c in symbol)


def _error_bar(group) -> float:
  """The std over seeds of a group's test accuracy (pt); 0 with one run."""
  accs = [_acc(r) for r in group.runs]
  return float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0


def _ylabel(groups) -> str:
  """Says what the error bars are, and that there are none with one seed."""
  if all(len(g.runs) < 2 for g in groups):
    return 'test accuracy (%), one seed: no error bars'
  return 'test accuracy (%), mean ± std over seeds'


def _plots(groups, out_dir, latency=None):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  written = []

  markers = 'osD^vP*X<>'

  def scatter(xs_of, xlabel, filename, logx):
    """One marker per group (legend, no labels on the points). On the log
    (parameter) axis, groups of the same size are drawn side by side so their
    error bars stay apart; the linear (latency) axis is drawn as measured."""
    fig, ax = plt.subplots(figsize=(11, 4.8), dpi=110)
    xs = [xs_of(g) for g in groups]
    for i, g in enumerate(groups):
      twins = [j for j, x in enumerate(xs) if np.isclose(x, xs[i], rtol=0.02)]
      spread = 0.06 * (twins.index(i) - (len(twins) - 1) / 2)
      x = xs[i] * (1 + spread) if logx else xs[i]
      ax.errorbar(x, np.mean([_acc(r) for r in g.runs]), yerr=_error_bar(g),
                  fmt=markers[i % len(markers)],
                  capsize=4, label=f'{g.name}: {runs_lib.describe(g.first)}')
    if logx:
      ax.set_xscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_ylabel(groups))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, filename))
    plt.close(fig)
    written.append(filename)

  scatter(lambda g: g.first.metrics['params'], 'parameters (log scale)',
          'accuracy_vs_params.png', True)
  scatter(lambda g: _group_latency(g, latency),
          'latency (ms/sample, batch 1)', 'accuracy_vs_latency.png', False)
  count = {}  # sweep plots of each symbol so far: sweep_T_0.png, sweep_T_1.png, ...
  for key, sweep in sweeps(groups):
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    xs = [v for v, _ in sweep]
    means = [np.mean([_acc(r) for r in g.runs]) for _, g in sweep]
    ax.errorbar(xs, means, yerr=[_error_bar(g) for _, g in sweep], fmt='o-', capsize=4)
    ax.set_xlabel(f'{key.symbol} ({key.path})')
    ax.set_ylabel(_ylabel([g for _, g in sweep]))
    if key.path.endswith('temperature') and min(xs) > 0:  # temperatures double
      ax.set_xscale('log', base=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    symbol = _ascii(key.symbol)
    name = f'sweep_{symbol}_{count.setdefault(symbol, 0)}.png'
    count[symbol] += 1
    fig.savefig(os.path.join(out_dir, name))
    plt.close(fig)
    written.append(name)
  return written


def _ordered(groups, teacher):
  """Teacher first, then plain before BN+residual, then by method in the
  registry's order (the baseline 'none' first), then by name."""
  names = methods.names()
  def rank(g):
    method = names.index(g.method) if g.method in names else len(names)
    return (g is not teacher, bool(g.model.get('bn_residual')), method, g.name)
  return sorted(groups, key=rank)


def build(groups, pairs, title='kdjax report', latency=None):
  """The report's markdown (str) for `groups` and McNemar `pairs`; `latency`:
  the result of `analysis latency` for the latency columns."""
  teacher = find_teacher(groups)
  groups = _ordered(groups, teacher)
  how = ('one measurement per architecture (`analysis latency`, batch 1, '
         f'{latency["device"]}): the median, and the speed-up vs the teacher with '
         'its 95 % bootstrap interval' if latency else
         "each run's own measurement (see its metrics.json), averaged over seeds; "
         'these move with what the machine was doing, so differences between '
         'them are not evidence (run `analysis latency`)')
  lines = [f'# {title}', '',
           'Final-epoch test accuracy. With several seeds: mean ± half-width of the '
           '95 % t-interval over seeds; with one: the Wilson 95 % interval. Teacher: '
           f'`{teacher.name if teacher else "none"}`. Latency: {how}.', '']
  lines += _summary_table(groups, teacher, latency)
  lines += ['', '## Each run', ''] + _run_table(groups)
  if pairs:
    rows = mcnemar_rows(pairs)
    lines += ['', '## McNemar tests (each seed of A vs the same seed of B)', '',
              'Improved = wrong in A, right in B; degraded = right in A, wrong in B. '
              'The test is exact (binomial) when improved + degraded < 25, else χ² '
              'with continuity correction. Holm–Bonferroni over all '
              f'{len(rows)} tests in this table.', '']
    lines += _mcnemar_table(rows)
    lines += ['', '## Across seeds (paired by seed; Holm over these pairs)', ''] + (
        _paired_table(pairs))
  return '\n'.join(lines) + '\n'


def write(groups, out_dir, pairs=None, title='kdjax report', latency=None):
  """Writes report.md and the plots to `out_dir`; returns report.md's path."""
  os.makedirs(out_dir, exist_ok=True)
  groups = _ordered(groups, find_teacher(groups))
  pairs = default_comparisons(groups) if pairs is None else pairs
  text = build(groups, pairs, title, latency)
  plots = _plots(groups, out_dir, latency)
  text += '\n## Plots\n\n' + '\n'.join(f'![{p}]({p})' for p in plots) + '\n'
  path = os.path.join(out_dir, 'report.md')
  outputs.write_text(path, text)
  return path
