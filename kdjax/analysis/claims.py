"""A study's claims checked on grouped runs, each marked held / direction
only / not held with its evidence.

Significance: McNemar per seed (the runs of seed s share seed s's teacher and
test set), Holm-corrected over all the tests of one claim; across seeds, a
paired t-test (>= 2 seeds). "held" needs the claimed direction in the mean
and significance; "direction only" is the direction without significance.
"""

import dataclasses
import math
import statistics

import numpy as np
from scipy import stats as scipy_stats

from kdjax import errors
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats


def accuracy(run) -> float:
  return run.metrics['test']['accuracy']


@dataclasses.dataclass(frozen=True)
class Comparison:
  """Group a against group b over the seeds both have."""
  a: runs_lib.Group
  b: runs_lib.Group
  tests: tuple  # ((seed, stats.McNemar a -> b), ...): improved = wrong in a, right in b
  delta: float  # mean accuracy of b minus that of a, percentage points
  p_paired: float  # paired t-test over the seeds; nan with fewer than 2

  @property
  def seeds(self) -> list:
    return [s for s, _ in self.tests]


def compare(a: runs_lib.Group, b: runs_lib.Group) -> Comparison:
  pairs = runs_lib.same_seed(a, b)
  tests = tuple((ra.seed, stats.mcnemar(ra.predictions(), rb.predictions(),
                                        names=(ra.path, rb.path))) for ra, rb in pairs)
  acc_a, acc_b = [accuracy(r) for r, _ in pairs], [accuracy(r) for _, r in pairs]
  delta = statistics.fmean(acc_b) - statistics.fmean(acc_a) if pairs else math.nan
  return Comparison(a, b, tests, delta, stats.paired_t_test(acc_a, acc_b))


def evidence(c: Comparison, holm) -> str:
  per_seed = '; '.join(
      f'seed {s}: {r.improved} improved / {r.degraded} degraded, p = {r.p_value:.2g} '
      f'(Holm {p:.2g})' for (s, r), p in zip(c.tests, holm))
  paired = ('paired t-test n/a (one seed)' if math.isnan(c.p_paired)
            else f'paired t-test over {len(c.seeds)} seeds p = {c.p_paired:.2g}')
  return (f'{c.a.name} → {c.b.name}: Δ = {c.delta:+.2f} pt (mean over seeds {c.seeds}); '
          f'McNemar {per_seed}; {paired}')


def significant(c: Comparison, holm, favour=True) -> bool:
  """Every seed's McNemar test significant after Holm in the favoured
  direction (b better when `favour`), or the paired t-test significant."""
  by_mcnemar = bool(c.tests) and all(
      p < 0.05 and (r.improved > r.degraded) == favour for (_, r), p in zip(c.tests, holm))
  return by_mcnemar or (not math.isnan(c.p_paired) and c.p_paired < 0.05)


def verdict(direction: bool, is_significant: bool) -> str:
  if not direction:
    return 'not held'
  return 'held' if is_significant else 'direction only (not significant)'


def holm_per_comparison(comparisons) -> list[list[float]]:
  """Holm-adjusted McNemar p-values over all tests of the comparisons,
  split back per comparison."""
  flat = stats.holm([r.p_value for c in comparisons for _, r in c.tests]) if any(
      c.tests for c in comparisons) else []
  out, i = [], 0
  for c in comparisons:
    out.append(flat[i:i + len(c.tests)])
    i += len(c.tests)
  return out


def section(title: str, result: str, lines) -> list[str]:
  return [f'## {title}: **{result}**', ''] + [f'- {line}' for line in lines] + ['']


def check(title, comparisons, direction: bool, favour=True, extra=()) -> list[str]:
  """A claim that every comparison goes the favoured way: markdown lines."""
  holm = holm_per_comparison(comparisons)
  ok = all(significant(c, h, favour) for c, h in zip(comparisons, holm))
  return section(title, verdict(direction, ok),
                 [evidence(c, h) for c, h in zip(comparisons, holm)] + list(extra))


def mean_accuracy(group: runs_lib.Group, seeds=None) -> float:
  return statistics.fmean(accuracy(r) for r in group.runs
                          if seeds is None or r.seed in seeds)


def best(title, groups: dict, claimed) -> list[str]:
  """The claim that `groups[claimed]` has the highest mean accuracy of
  `groups` ({label: Group}, compared over the seeds all of them have): held
  when it is first and significantly above the runner-up."""
  seeds = set.intersection(*({r.seed for r in g.runs} for g in groups.values()))
  means = {k: mean_accuracy(g, seeds) for k, g in groups.items()}
  order = sorted(means, key=means.get, reverse=True)
  ranking = ', '.join(f'{k}: {means[k]:.2f}' for k in order)
  top = order[0]
  if top == claimed:
    c = compare(groups[order[1]], groups[claimed])
    holm = holm_per_comparison([c])[0]
    return section(title, verdict(True, significant(c, holm)),
                   [f'mean accuracy over seeds {sorted(seeds)}: {ranking}',
                    'against the runner-up: ' + evidence(c, holm)])
  c = compare(groups[claimed], groups[top])
  holm = holm_per_comparison([c])[0]
  return section(title, 'not held', [
      f'mean accuracy over seeds {sorted(seeds)}: {ranking}',
      f'the best is {top}; against it: ' + evidence(c, holm),
      f'{top} is {"" if significant(c, holm) else "not "}significantly above {claimed}'])


def trend(points) -> tuple[float, float, list[float]]:
  """The slope of accuracy against log2(x) over `points` [(x, Group)]: per
  seed a least-squares fit, then (mean slope in pt per doubling, the
  two-sided p of a one-sample t-test of the seeds' slopes against 0, the
  slopes). The p is nan with fewer than 2 seeds."""
  seeds = sorted(set.intersection(*({r.seed for r in g.runs} for _, g in points)))
  slopes = []
  for seed in seeds:
    xs = [math.log2(x) for x, _ in points]
    ys = [accuracy(next(r for r in g.runs if r.seed == seed)) for _, g in points]
    slopes.append(float(np.polyfit(xs, ys, 1)[0]))
  if len(slopes) < 2:
    p = math.nan
  elif np.allclose(slopes, slopes[0]):  # no spread: t is 0 or infinite
    p = 1.0 if np.isclose(slopes[0], 0.0) else 0.0
  else:
    p = float(scipy_stats.ttest_1samp(slopes, 0.0).pvalue)
  return (statistics.fmean(slopes) if slopes else math.nan), p, slopes


def load_group(name: str, pattern: str) -> runs_lib.Group:
  """The runs matching `pattern` (one configuration, its seeds) as one group
  named `name`; runs of more than one configuration are refused."""
  groups = runs_lib.group(runs_lib.load_glob(pattern))
  if len(groups) != 1:
    raise errors.DataError(
        f'{pattern} matches runs of {len(groups)} configurations '
        f'({", ".join(g.name for g in groups)}); expected the seeds of one')
  return dataclasses.replace(groups[0], name=name)
