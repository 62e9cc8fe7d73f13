"""The ResNet study's Tables 3.1-3.3 and claims (seeds/000 sec. 3), on the
comparison study's CNN pair under the ResNet study's recipe (issue 12).

  python experiments/cnn_ablation.py
  # -> experiments/results/cifar10_cnn_ablation/{tables.md, claims.md, *.png}

Reads the runs `experiments/run_cnn_ablation.sh SEED` collected in
experiments/results/cifar10_cnn_ablation/runs/ (teacher_s<s>, student_s<s>,
kd_t<T>_a<alpha>_s<s>), and the baseline trained for longer in epochs/
(student_e<E>_s<s>, to show whether the chosen epochs suffice). These are
CNN numbers, not ResNet-34 / MobileNetV2 ones: the study's columns are there
to set directions side by side.

Tables: mean ± sample std over seeds, 95 % t interval, Δ against the baseline
student with its paired t-test p, and per seed the McNemar p, Holm-adjusted
over all 9 KD settings x seeds (one family). Claims (sec. 3.1-3.3, 4):
  1. KD improves the student (every setting above the baseline).
  2. Higher T is better (alpha = 0.3): the slope of accuracy per doubling of
     T, fitted per seed, t-tested over seeds.
  3. T=16, alpha=0.3 is the best setting.
  4. alpha=0.5 is the best alpha at T=4.
  5. The extreme alphas (0.1, 0.9) are worse than the best middle alpha.
Verdicts as in `kdjax.analysis.claims`. Beside them: the baseline's curve
against longer and shorter schedules, each KD setting's Δ per epoch
(kd_gap.png), and the 20-epoch grids (e20/) against these.
"""

import functools
import glob
import os
import statistics
import sys

import scipy.stats

from kdjax import outputs
from kdjax.analysis import claims
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats
from kdjax.analysis import tables as tables_lib

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                       'cifar10_cnn_ablation')
TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)  # at alpha = 0.3
ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9)  # at T = 4
# The study's accuracies (ResNet-34 -> MobileNetV2, one run each), sec. 3.
STUDY = {'teacher': 94.08, 'student': 92.10, (4.0, 0.3): 92.58, (16.0, 0.3): 92.95,
         (4.0, 0.5): 92.89, (1.0, 0.3): 92.64, (2.0, 0.3): 92.51, (8.0, 0.3): 92.72,
         (4.0, 0.1): 92.19, (4.0, 0.7): 92.58, (4.0, 0.9): 92.66}
SETTINGS = sorted({(t, 0.3) for t in TEMPERATURES} | {(4.0, a) for a in ALPHAS})


def seeds_of(groups) -> list[int]:
  """The students' seeds (the teachers may be ahead of their grids)."""
  return sorted({r.seed for k, g in groups.items() if k != 'teacher' for r in g.runs})


def row_name(setting) -> str:
  return 'kd_t{}_a{}'.format(*setting)


def label(setting) -> str:
  return 'T={:g}, α={:g}'.format(*setting)


def load(results=RESULTS) -> dict:
  """{'teacher' | 'student' | (T, alpha): Group} of the rows with runs."""
  groups = {}
  for key in ['teacher', 'student', *SETTINGS]:
    name = key if isinstance(key, str) else row_name(key)
    pattern = os.path.join(results, 'runs', f'{name}_s*')
    if glob.glob(os.path.join(pattern, 'metrics.json')):
      shown = label(key) if not isinstance(key, str) else {
          'teacher': 'Teacher', 'student': 'Student (baseline)'}[key]
      groups[key] = claims.load_group(shown, pattern)
  return groups


def _summary(group):
  accs = [claims.accuracy(r) for r in group.runs]
  s = stats.seed_summary(accs)
  if len(accs) < 2:
    return f'{accs[0]:.2f}', 'n/a'
  return f'{s.mean:.2f} ± {s.std:.2f}', f'{s.low:.2f}–{s.high:.2f}'


def mean_curve(curves) -> list[float]:
  """Curves of the same length, mean per epoch."""
  return [statistics.fmean(e) for e in zip(*curves)]


_fmt_p = functools.partial(tables_lib.format_p, missing='n/a')


def epochs_of(groups, keys) -> str:
  """The training epochs of these rows' runs, '/'-joined where they differ."""
  found = sorted({r.config['train']['epochs'] for k in keys if k in groups
                  for r in groups[k].runs})
  return '/'.join(map(str, found)) or '—'


def tables(groups, results=RESULTS) -> str:
  settings = [k for k in SETTINGS if k in groups]
  base = groups.get('student')
  comparisons = {k: claims.compare(base, groups[k]) for k in settings} if base else {}
  holm = dict(zip(comparisons, claims.holm_per_comparison(list(comparisons.values()))))
  seeds = seeds_of(groups)
  teacher_params = groups['teacher'].first.metrics['params'] if 'teacher' in groups else None
  rates = sorted({r.config['optimizer']['learning_rate'] for g in groups.values() for r in g.runs})
  why = os.path.relpath(os.path.join(RESULTS, 'lr0.1', 'README.md'), results)
  rate = ', '.join(f'{x:g}' for x in rates) + (
      '' if rates == [0.1] else f" (the study's 0.1 diverged: [lr0.1/README.md]({why}))")

  length = ((f'teacher {epochs_of(groups, ["teacher"])} epochs, ' if 'teacher' in groups else '')
            + f'students {epochs_of(groups, ["student", *settings])} epochs (cosine over each run)')

  def cells(key):
    g = groups[key]
    acc, interval = _summary(g)
    study = STUDY.get(key)
    study_delta = f'{study - STUDY["student"]:+.2f}' if key not in ('teacher', 'student') else '—'
    if key in comparisons:
      c = comparisons[key]
      mcnemar = ', '.join(f's{s}: {_fmt_p(p)}{"*" if p < 0.05 else ""}'
                          for s, p in zip(c.seeds, holm[key]))
      compare = f'{c.delta:+.2f} | {_fmt_p(c.p_paired)} | {mcnemar}'
    else:
      compare = '— | — | —'
    return (f'{acc} | {interval} | {len(g.runs)} | {compare} | '
            f'{f"{study:.2f}" if study else "—"} | {study_delta}')

  head = ('Acc. (%) | 95 % t interval | Seeds | Δ vs baseline (pt) | paired t p | '
          'McNemar p per seed (Holm; * < 0.05) | Study acc. | Study Δ')
  rule = '---:|---:|---:|---:|---:|---|---:|---:'
  lines = [
      '# The ResNet study\'s Tables 3.1–3.3 on the CNN pair', '',
      'Comparison-study CNN teacher (64/128/256 convs, 1024 dense, dropout 0.3) and '
      'CNN student (32/64 convs, 256 dense) trained under the ResNet study\'s recipe '
      f'(`configs/cifar10_cnn_ablation/`): {length}; SGD momentum 0.9, peak lr {rate}, weight decay '
      '1e-4, batch 128, 4-px pad + random crop and horizontal flip, the study\'s '
      'normalisation; all 50,000 / 10,000 CIFAR-10 images (`../shared/data/'
      'cifar10-jpeg`). The 10 students of a seed are one vmapped program that '
      'runs its teacher once per batch. **These are CNN numbers; the study\'s '
      'columns are ResNet-34 → MobileNetV2**, for directions only.', '',
      f"Final-epoch test accuracy, students' seeds {seeds}; each student of seed *s* learns "
      'from the teacher of seed *s*. Generated by `python experiments/cnn_ablation.py` '
      'from `runs/`; McNemar tables with χ² and exact p, and the T and α plots with '
      'error bars, are in [report/report.md](report/report.md).', '',
      '## 3.1 Main results', '',
      f'| Model | Params | Compression | {head} |',
      f'|---|---:|---:|{rule}|']
  for key in ('teacher', 'student', (4.0, 0.3), (16.0, 0.3), (4.0, 0.5)):
    if key in groups:
      params = groups[key].first.metrics['params']
      ratio = f'{teacher_params / params:.1f}×' if teacher_params else '—'
      lines.append(f'| {groups[key].name} | {params:,} | {ratio} | {cells(key)} |')
  lines += ['', '## 3.2 Temperature (α = 0.3)', '', f'| T | {head} |', f'|---:|{rule}|']
  lines += [f'| {t:g} | {cells((t, 0.3))} |' for t in TEMPERATURES if (t, 0.3) in groups]
  lines += ['', '## 3.3 α (T = 4)', '', f'| α | Hard weight | Soft weight | {head} |',
            f'|---:|---:|---:|{rule}|']
  lines += [f'| {a:g} | {a:.0%} | {1 - a:.0%} | {cells((4.0, a))} |'
            for a in ALPHAS if (4.0, a) in groups]
  return '\n'.join(lines + [''])


def epochs(groups, results) -> tuple[list[str], dict]:
  """Has the baseline stopped rising by the last epoch? Its test accuracy per
  epoch (mean over seeds), beside the same student trained for other lengths:
  alone (`epochs/student_e<E>_s<seed>`) or in the 20-epoch grid
  (`e20/runs/student_s<seed>`), each compared with the baseline of its seed
  by McNemar and, where two seeds or more have a schedule, by the paired
  t-test over seeds; each run alone also against the next shorter one of its
  seed (does doubling again still pay?). Returns markdown lines and the
  curves."""
  curves = {}
  baseline = [r for r in groups['student'].runs if r.metrics.get('history')] if (
      'student' in groups) else []
  if baseline:
    curve = mean_curve(r.test_curve() for r in baseline)
    curves[f'baseline ({len(curve)} epochs), mean of seeds {[r.seed for r in baseline]}'] = curve
  others = []  # (run, its curve, how it was trained)
  for pattern, how in ((os.path.join(results, 'epochs', 'student_e*_s*'), 'alone'),
                       (os.path.join(results, 'e20', 'runs', 'student_s*'), 'in the 20-epoch grid')):
    for path in glob.glob(pattern):
      if os.path.exists(os.path.join(path, 'metrics.json')):
        run = runs_lib.load(path)
        if run.metrics.get('history'):
          others.append((run, run.test_curve(), how))
  others.sort(key=lambda o: (o[2] != 'alone', len(o[1]), o[0].seed))
  for run, curve, how in others:
    curves[f'{len(curve)} epochs, seed {run.seed}, {how}'] = curve
  if not curves:
    return [], curves
  lines = ['## Epochs: has the baseline stopped rising?', '']
  for name, curve in curves.items():
    tail = ', '.join(f'{a:.2f}' for a in curve[-5:])
    lines.append(f'- {name}: final {curve[-1]:.2f} %; last 5 epochs {tail}')
  for run, curve, how in sorted(others, key=lambda o: len(o[1])):
    short = next((r for r in baseline if r.seed == run.seed), None)
    if short is not None:
      lines.append(_gain(short, run, f'{len(curve)} epochs ({how}) against the '
                         f'baseline\'s {len(short.metrics["history"])}'))
  alone = [(r, len(c)) for r, c, how in others if how == 'alone']
  for run, n in alone:
    shorter = [(r, k) for r, k in alone if r.seed == run.seed and k < n]
    if shorter:
      prev, k = max(shorter, key=lambda o: o[1])
      lines.append(_gain(prev, run, f'{n} epochs against {k}, both alone'))
  lines += _schedule_gains(baseline, [(r, how) for r, _, how in others])
  lines += ['', '![baseline test accuracy per epoch](baseline_curve.png)', '']
  return lines, curves


def _gain(short, long, label) -> str:
  """One markdown line: `long`'s accuracy minus `short`'s, with McNemar."""
  m = stats.mcnemar(short.predictions(), long.predictions(), names=(short.path, long.path))
  return (f'- {label}, seed {long.seed}: '
          f'{claims.accuracy(long) - claims.accuracy(short):+.2f} pt; McNemar '
          f'{m.improved} improved / {m.degraded} degraded, p = {m.p_value:.2g}')


def _schedule_gains(baseline, others) -> list[str]:
  """Over the seeds that have both: the mean gain of each other schedule
  (same length, same way of training) over the baseline, with the paired
  t-test over seeds; only where two seeds or more have it."""
  by_schedule = {}
  for run, how in others:
    by_schedule.setdefault((len(run.metrics['history']), how), []).append(run)
  lines = []
  for (n, how), group in sorted(by_schedule.items()):
    pairs = [(short, run) for run in group
             for short in baseline if short.seed == run.seed]
    if len(pairs) < 2:
      continue
    short_acc, long_acc = ([claims.accuracy(r) for r in side] for side in zip(*pairs))
    gain = statistics.fmean(b - a for a, b in zip(short_acc, long_acc))
    lines.append(
        f'- {n} epochs ({how}) against the baseline\'s '
        f'{len(pairs[0][0].metrics["history"])}, mean over seeds '
        f'{sorted(r.seed for _, r in pairs)}: {gain:+.2f} pt; paired t-test '
        f'p = {_fmt_p(stats.paired_t_test(short_acc, long_acc))}')
  return lines


def schedules(groups, results) -> list[str]:
  """Do KD's effects and the settings' ranking move with the schedule? Each KD
  setting's Δ against its own grid's baseline in the 20-epoch grids (`e20/`)
  and in these, on the seeds both have, and Spearman's ρ between the two
  schedules' Δ over the settings (mean over those seeds)."""
  short = load(os.path.join(results, 'e20'))
  if 'student' not in short or 'student' not in groups:
    return []
  seeds = sorted(set(seeds_of(short)) & set(seeds_of(groups)))
  keys = [k for k in SETTINGS if k in short and k in groups]
  if not seeds or len(keys) < 2:
    return []

  base = [claims.mean_accuracy(g['student'], seeds) for g in (short, groups)]
  d_short, d_long = ([claims.mean_accuracy(g[k], seeds) - b for k in keys]
                     for g, b in zip((short, groups), base))
  n_short, n_long = (epochs_of(g, ['student']) for g in (short, groups))
  rho, p = scipy.stats.spearmanr(d_short, d_long)
  lines = [f'## Schedule: the {n_short}-epoch grids against these', '',
           f"Seeds {seeds}; Δ: a setting's accuracy minus its own grid's baseline "
           '(pt), mean over those seeds. The short grids\' tables are in '
           '[e20/tables.md](e20/tables.md).', '',
           f'| Setting | {n_short} ep. acc. | {n_short} ep. Δ | {n_long} ep. acc. | '
           f'{n_long} ep. Δ | change of Δ |', '|---|---:|---:|---:|---:|---:|']
  for key, a, b in zip(keys, d_short, d_long):
    lines.append(f'| {label(key)} | {claims.mean_accuracy(short[key], seeds):.2f} | {a:+.2f} | '
                 f'{claims.mean_accuracy(groups[key], seeds):.2f} | {b:+.2f} | {b - a:+.2f} |')
  lines += [f'| baseline | {base[0]:.2f} | — | {base[1]:.2f} | — | — |', '',
            f'- Settings above their baseline: {sum(d > 0 for d in d_short)} of {len(keys)} '
            f'at {n_short} epochs, {sum(d > 0 for d in d_long)} of {len(keys)} at {n_long}; '
            f'mean Δ {statistics.fmean(d_short):+.2f} → {statistics.fmean(d_long):+.2f} pt.',
            f'- Best setting: {label(keys[d_short.index(max(d_short))])} at {n_short} epochs, '
            f'{label(keys[d_long.index(max(d_long))])} at {n_long}.',
            f'- Spearman\'s ρ between the two schedules\' Δ over the {len(keys)} settings: '
            f'{rho:+.2f} (p = {_fmt_p(p)}).', '']
  return lines


def learning_speed(groups) -> tuple[list[str], dict]:
  """Is KD ahead of the baseline during training, not only at its end? Each
  KD setting's test accuracy minus the baseline's, epoch by epoch (the same
  cosine schedule, mean over the seeds both have), at a few epochs, and the
  first epoch at which the setting reaches the baseline's final accuracy;
  with two seeds or more, the paired t-test over seeds of the Δ a quarter
  into the run. Mid-run test accuracies describe the path; the tables report
  only the final epoch. Returns markdown lines and {label: Δ per epoch}."""
  base = groups.get('student')
  if base is None or not all(r.metrics.get('history') for r in base.runs):
    return [], {}
  gaps, lines = {}, []
  for key in SETTINGS:
    g = groups.get(key)
    if g is None or not all(r.metrics.get('history') for r in g.runs):
      continue
    pairs = runs_lib.same_seed(base, g)
    per_seed = [[r.test_curve() for r in side] for side in zip(*pairs)]  # [baseline, KD]
    if not pairs or len({len(c) for side in per_seed for c in side}) != 1:
      continue
    b, k = map(mean_curve, per_seed)
    gaps[label(key)] = [x - y for x, y in zip(k, b)]
    quarter = max(len(b) // 4, 1)
    marks = sorted({1, quarter, len(b) // 2, 3 * len(b) // 4, len(b)} - {0})
    reach = next((e + 1 for e, a in enumerate(k) if a >= b[-1]), None)
    p = stats.paired_t_test(*([c[quarter - 1] for c in curves] for curves in per_seed))
    if not lines:
      lines = ['## KD during training: Δ against the baseline, epoch by epoch', '',
               'Test accuracy of each setting minus the baseline\'s at the same epoch of the '
               'same schedule (pt), mean over seeds; then the paired t-test over seeds of '
               f'the Δ at epoch {quarter}, and the first epoch at which the setting reaches '
               f'the baseline\'s final {b[-1]:.2f} %.', '',
               '| Setting | ' + ' | '.join(f'epoch {m}' for m in marks)
               + f' | epoch {quarter}: paired t p | reaches it at |',
               '|---|' + '---:|' * (len(marks) + 2)]
    lines.append(f'| {label(key)} | ' + ' | '.join(f'{gaps[label(key)][m - 1]:+.2f}' for m in marks)
                 + f' | {_fmt_p(p)} | {reach or "never"} |')
  if lines:
    lines += ['', '![KD minus baseline, per epoch](kd_gap.png)', '']
  return lines, gaps


def plot_gaps(gaps, path, seeds):
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
  for name, gap in gaps.items():
    ax.plot(range(1, len(gap) + 1), gap, label=name)
  ax.axhline(0, color='gray', linestyle='--')
  ax.set_xlabel('epoch')
  ax.set_ylabel('KD student minus baseline, test accuracy (pt)')
  ax.set_title(f'KD against the baseline during training, CNN pair, mean of seeds {seeds}',
               fontsize=9)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def compute(groups) -> list[str]:
  """Compute spent per seed: the teacher, then the grid of students (one
  program, so its time is counted once, not per student)."""
  teachers = {r.seed: r for r in groups['teacher'].runs
              if 'train_seconds' in r.metrics} if 'teacher' in groups else {}
  grids = {}
  for key, g in groups.items():
    for r in g.runs:
      if key != 'teacher' and 'grid' in r.metrics:
        grids.setdefault(r.seed, r)
  if not teachers and not grids:
    return []
  lines = ['## Compute spent', '',
           'Train: the epochs\' training seconds summed over every segment of a '
           'resumed run (`metrics.json`); wall: `wall_seconds.txt`, `≥` where the '
           'run resumed from a checkpoint (its last segment only). The grid is one '
           'program for its students, counted once.', '',
           '| Seed | Teacher train (s) | Teacher wall (s) | Grid: students | Grid train (s) '
           '| Grid wall (s) | Train, teacher + grid (h) |',
           '|---:|---:|---:|---:|---:|---:|---:|']
  total = 0.0
  for seed in sorted(set(teachers) | set(grids)):
    t, g = teachers.get(seed), grids.get(seed)
    t_train = t.metrics['train_seconds'] if t else 0.0
    g_train = g.metrics['grid']['train_seconds'] if g else 0.0
    total += t_train + g_train
    lines.append(
        f'| {seed} | {f"{t_train:,.0f}" if t else "—"} | {t.wall() if t else "—"} | '
        f'{g.metrics["grid"]["students"] if g else "—"} | '
        f'{f"{g_train:,.0f}" if g else "—"} | {g.wall() if g else "—"} | '
        f'{(t_train + g_train) / 3600:.2f} |')
  lines += ['', f'Total training time over these seeds: {total / 3600:.2f} h.', '']
  return lines


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def plot_curves(curves, path):
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
  for name, curve in curves.items():
    ax.plot(range(1, len(curve) + 1), curve, marker='.', label=name)
  ax.set_xlabel('epoch (cosine schedule over the run\'s own length)')
  ax.set_ylabel('test accuracy (%)')
  ax.set_title('Baseline CNN student under the ResNet study\'s recipe')
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def plot_sweeps(groups, results) -> list[str]:
  """temperature.png (alpha = 0.3) and alpha.png (T = 4): mean accuracy over
  seeds with its 95 % t interval as error bars (with one seed: the run's
  Wilson 95 % interval over the test images), the baseline student as a
  dashed line with its interval as a band."""
  plt = _pyplot()
  one_seed = all(len(g.runs) < 2 for k, g in groups.items() if k != 'teacher')

  def interval(group):
    """(mean, below, above) in percent."""
    if one_seed:
      test = group.first.metrics['test']
      low, high = stats.wilson_interval(test['count'] - test['errors'], test['count'])
      acc = claims.accuracy(group.first)
      return acc, acc - 100 * low, 100 * high - acc
    s = stats.seed_summary([claims.accuracy(r) for r in group.runs])
    return s.mean, s.mean - s.low, s.high - s.mean

  written = []
  base = groups.get('student')
  for name, xs, key_of, xlabel in (
      ('temperature.png', TEMPERATURES, lambda t: (t, 0.3), 'temperature T (α = 0.3)'),
      ('alpha.png', ALPHAS, lambda a: (4.0, a), 'α, the hard-label weight (T = 4)')):
    points = [(x, *interval(groups[key_of(x)])) for x in xs if key_of(x) in groups]
    if len(points) < 2:
      continue
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    x, mean, below, above = zip(*points)
    ax.errorbar(x, mean, yerr=[below, above], fmt='o-', capsize=4, label='KD student')
    if base:
      b_mean, b_below, b_above = interval(base)
      ax.axhline(b_mean, color='gray', linestyle='--', label='baseline student')
      ax.axhspan(b_mean - b_below, b_mean + b_above, color='gray', alpha=0.15)
    if name == 'temperature.png':
      ax.set_xscale('log', base=2)
    ax.set_xticks(x, [f'{v:g}' for v in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel('test accuracy (%), one seed, Wilson 95 % interval' if one_seed else
                  'test accuracy (%), mean over seeds, 95 % t interval')
    ax.set_title(f'CNN pair, ResNet study\'s recipe, seeds {seeds_of(groups)}', fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(results, name))
    plt.close(fig)
    written.append(name)
  return written


def claims_text(groups, results=RESULTS) -> str:
  runs = os.path.relpath(os.path.join(results, 'runs'), os.path.join(RESULTS, '..', '..', '..'))
  lines = ['# The ResNet study\'s claims on the CNN pair, checked', '',
           f'Runs: `{runs}/`; generated by '
           '`python experiments/cnn_ablation.py` (method in its docstring). CNN '
           'pair under the study\'s recipe, not ResNet-34 / MobileNetV2.', '']
  base = groups.get('student')
  kd = {k: g for k, g in groups.items() if isinstance(k, tuple)}
  if base and kd:
    below = [label(k) for k in kd if claims.mean_accuracy(kd[k]) <= claims.mean_accuracy(base)]
    lines += claims.check(
        '1. KD improves the student (every setting above the baseline)',
        [claims.compare(base, g) for g in kd.values()], not below,
        extra=[f'settings not above the baseline in the mean: {", ".join(below) or "none"}'])
  t_line = [(t, groups[(t, 0.3)]) for t in TEMPERATURES if (t, 0.3) in groups]
  if len(t_line) > 1:
    slope, p, slopes = claims.trend(t_line)
    first, last = t_line[0][1], t_line[-1][1]
    c = claims.compare(first, last)
    lines += claims.section(
        '2. Higher T is better (α = 0.3)',
        claims.verdict(slope > 0, p == p and p < 0.05),
        [f'slope of accuracy against log2 T: {slope:+.3f} pt per doubling (per seed: '
         f'{", ".join(f"{s:+.3f}" for s in slopes)}); t-test of the seeds\' slopes '
         f'against 0: p = {_fmt_p(p)}',
         'lowest against highest T: ' + claims.evidence(c, claims.holm_per_comparison([c])[0])])
  if (16.0, 0.3) in kd and len(kd) > 1:
    lines += claims.best('3. T=16, α=0.3 is the best setting',
                         {label(k): g for k, g in kd.items()}, label((16.0, 0.3)))
  a_line = {a: groups[(4.0, a)] for a in ALPHAS if (4.0, a) in groups}
  if 0.5 in a_line and len(a_line) > 1:
    lines += claims.best('4. α=0.5 is the best α at T=4',
                         {f'α={a:g}': g for a, g in a_line.items()}, 'α=0.5')
  middle = {a: g for a, g in a_line.items() if a not in (0.1, 0.9)}
  extremes = [a for a in (0.1, 0.9) if a in a_line]
  if middle and extremes:
    top = max(middle, key=lambda a: claims.mean_accuracy(middle[a]))
    lines += claims.check(
        f'5. The extreme α are worse than the best middle α (α={top:g} at T=4)',
        [claims.compare(a_line[a], middle[top]) for a in extremes],
        all(claims.mean_accuracy(a_line[a]) < claims.mean_accuracy(middle[top])
            for a in extremes))
  return '\n'.join(lines)


def main(argv):
  results = argv[1] if len(argv) > 1 else RESULTS
  groups = load(results)
  if not groups:
    sys.exit(f'kdjax: error: no finished runs in {results}/runs; expected those of '
             'experiments/run_cnn_ablation.sh')
  epoch_lines, curves = epochs(groups, results)
  gap_lines, gaps = learning_speed(groups)
  plots = plot_sweeps(groups, results)
  plot_lines = ['## T and α, with the baseline', '', *[f'![{p}]({p})' for p in plots], '']
  outputs.write_text(os.path.join(results, 'tables.md'), tables(groups, results) + '\n'.join(
      ['', *(plot_lines if plots else []), *epoch_lines, *gap_lines, *schedules(groups, results),
       *compute(groups)]))
  if curves:
    plot_curves(curves, os.path.join(results, 'baseline_curve.png'))
  if gaps:
    plot_gaps(gaps, os.path.join(results, 'kd_gap.png'), seeds_of(groups))
  outputs.write_text(os.path.join(results, 'claims.md'), claims_text(groups, results))
  print(f'wrote {results}/tables.md and claims.md ({len(groups)} rows, seeds '
        f'{seeds_of(groups)})')


if __name__ == '__main__':
  main(sys.argv)
