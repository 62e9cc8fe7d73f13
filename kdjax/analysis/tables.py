"""Markdown tables from run directories (their metrics.json)."""

import os

from kdjax import outputs
from kdjax.analysis import runs as runs_lib


def format_p(p, missing='—') -> str:
  """A p-value in two significant digits; `missing` for None or NaN."""
  return missing if p is None or p != p else f'{p:.2g}'


def results_table(runs, names=None) -> str:
  """One row per run: accuracy, errors, params, latency, wall time; an
  unfinished run (metrics.json `finished: false`) is refused."""
  names = names or [os.path.basename(os.path.normpath(r)) for r in runs]
  lines = ['| Run | Method | Test acc. (%) | Errors | Params | '
           'Latency, median (ms/sample) | Epochs | Train time (s) |',
           '|---|---|---:|---:|---:|---:|---:|---:|']
  for name, run in zip(names, runs):
    m = outputs.read_json(os.path.join(run, 'metrics.json'))
    runs_lib.check_finished(run, m)
    lat = m['latency']
    lines.append(
        f"| {name} | {m['method']} | {m['test']['accuracy']:.2f} | "
        f"{m['test']['errors']} | {m['params']:,} | "
        f"{lat['ms_per_sample_median']:.3f} | "
        f"{m['epochs']} | {m.get('train_seconds', float('nan')):.1f} |")
  return '\n'.join(lines)
