"""Inference latency per architecture, measured so that differences mean something.

A run's own latency (metrics.json) is timed once, right after training, on
whatever else the machine was doing: it says how that run's machine
behaved, not how fast its architecture is. Here each distinct architecture
(model config x input shape x compute dtype, not each run) is timed in
interleaved rounds: every round calls every model once, in a shuffled
order, after a warm-up, so slow phases of a busy machine hit all models
alike. Per architecture and batch size: the median ms/sample with a 95 %
bootstrap interval of the median and the IQR. A ratio between two
architectures is the ratio of their medians with a 95 % bootstrap interval
over rounds (resampled together, as the rounds pair them); it is called a
difference only when that interval excludes 1.

Measured here (a 2-core VM), one process's intervals did not cover the next
process's medians: batch-1 times were bimodal between processes (e.g. the
MNIST teacher at 0.27 or 0.41 ms/sample). So the measurement runs in
several fresh processes, and the bootstrap resamples processes, then rounds
within each: the intervals include that between-process variation.
"""

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from kdjax import errors
from kdjax import models

IMAGE_SHAPES = {'mnist': (28, 28, 1), 'fashion_mnist': (28, 28, 1),
                'digits': (8, 8, 1), 'cifar10': (32, 32, 3)}
METHOD = ('jit eval-mode forward on float32 zeros; each round times one call per '
          'architecture (block_until_ready), in a fresh random order; '
          'ms/sample = call time / batch')


@dataclasses.dataclass(frozen=True)
class Architecture:
  key: str  # JSON of (model, input shape, dtype)
  model: dict
  image_shape: tuple
  dtype: str
  runs: tuple  # names of the runs (groups) that use it


def arch_key(model: dict, image_shape, dtype) -> str:
  """What makes two runs' inference the same computation: the model config
  without how its weights were first drawn (`param_init`), the input shape
  and the compute dtype."""
  model = {k: v for k, v in model.items() if k != 'param_init'}
  return json.dumps([model, list(image_shape), dtype], sort_keys=True)


def architectures(groups) -> list[Architecture]:
  """The distinct architectures of report groups (`runs.group`), in order."""
  found = {}
  for g in groups:
    config = g.first.config
    name = config['dataset']['name']
    if name not in IMAGE_SHAPES:
      raise errors.ConfigError(
          f'{g.name}: latency needs the input shape of dataset {name!r}; known: '
          f'{sorted(IMAGE_SHAPES)}')
    dtype = config.get('train', {}).get('compute_dtype', 'float32')
    key = arch_key(config['model'], IMAGE_SHAPES[name], dtype)
    found.setdefault(key, (config['model'], IMAGE_SHAPES[name], dtype, []))[3].append(g.name)
  return [Architecture(k, m, s, d, tuple(r)) for k, (m, s, d, r) in found.items()]


def _forward(arch: Architecture, batch: int):
  model = models.create(arch.model, 10, dtype=arch.dtype)
  variables = models.init(model, jax.random.PRNGKey(0), arch.image_shape)
  f = jax.jit(lambda v, x: model.apply(v, x, train=False))
  x = jnp.zeros((batch, *arch.image_shape), jnp.float32)
  return lambda: f(variables, x).block_until_ready()


def measure(archs, *, batch: int, rounds: int, warmup: int, seed: int = 0) -> np.ndarray:
  """ms/sample [rounds, len(archs)] from interleaved rounds."""
  calls = [_forward(a, batch) for a in archs]
  for call in calls:
    for _ in range(warmup):
      call()
  rng = np.random.default_rng(seed)
  times = np.zeros((rounds, len(archs)))
  for r in range(rounds):
    for i in rng.permutation(len(archs)):
      start = time.perf_counter()
      calls[i]()
      times[r, i] = (time.perf_counter() - start) * 1e3 / batch
  return times


def _resample(times, rng, draws):
  """Bootstrap samples of pooled times [draws, n, archs]: processes drawn with
  replacement, then rounds within each drawn process. `times`: a list of
  [rounds, archs] arrays, one per process."""
  p = len(times)
  out = []
  for _ in range(draws):
    chosen = rng.integers(0, p, p)
    out.append(np.concatenate([times[c][rng.integers(0, len(times[c]), len(times[c]))]
                               for c in chosen]))
  return np.stack(out)


def bootstrap_medians(times, draws=2000, seed=0):
  """Medians [draws, archs] of bootstrap samples of `times`, a list of
  [rounds, archs] arrays, one per process (see `_resample`)."""
  return np.median(_resample(times, np.random.default_rng(seed), draws), axis=1)


def _interval(samples):
  return np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)


def bootstrap_median(times, draws=2000, seed=0):
  """95 % bootstrap interval (low, high) of the median of each architecture."""
  return _interval(bootstrap_medians(times, draws, seed))


def _ratio(pooled, boot, a, b):
  point = float(np.median(pooled[:, b]) / np.median(pooled[:, a]))
  low, high = _interval(boot[:, b] / boot[:, a])
  return point, float(low), float(high)


def ratio(times, a, b, draws=2000, seed=0):
  """median(b) / median(a) (b's time per a's: > 1 means a is faster) and its 95 %
  bootstrap interval, resampling processes and rounds jointly for a and b."""
  return _ratio(np.concatenate(times), bootstrap_medians(times, draws, seed), a, b)


def summarize(archs, times, ref) -> list[dict]:
  """Each architecture's median, interval, IQR and speed-up over `ref`, all
  from one bootstrap resample of `times` (a list, one array per process)."""
  boot = bootstrap_medians(times)
  low, high = _interval(boot)
  pooled = np.concatenate(times)
  q1, q3 = np.percentile(pooled, 25, axis=0), np.percentile(pooled, 75, axis=0)
  return [{'runs': list(a.runs), 'model': a.model, 'image_shape': list(a.image_shape),
           'dtype': a.dtype, 'median_ms': float(np.median(pooled[:, i])),
           'median_ci95': [float(low[i]), float(high[i])],
           'iqr_ms': [float(q1[i]), float(q3[i])],
           'speedup_vs_reference': list(_ratio(pooled, boot, i, ref))}
          for i, a in enumerate(archs)]


def benchmark(groups, *, batches=(1, 256), rounds=200, warmup=20, processes=1,
              run_globs=(), seed=0) -> dict:
  """Every architecture of `groups` at each batch size; ratios vs the
  reference (the architecture with the most parameters: the teacher).
  processes > 1: each measurement runs in that many fresh processes (the
  same command, `run_globs` its --runs), pooled with a hierarchical bootstrap."""
  archs = architectures(groups)
  params = [max(g.first.metrics['params'] for g in groups if g.name in a.runs)
            for a in archs]
  ref = int(np.argmax(params))
  raw = _measure_in_processes(run_globs, batches, rounds, warmup, processes) if (
      processes > 1) else {str(b): [measure(archs, batch=b, rounds=rounds,
                                            warmup=warmup, seed=seed)] for b in batches}
  out = {'device': f'{jax.devices()[0].device_kind} ({platform.processor() or platform.machine()})',
         'jax': jax.__version__, 'method': METHOD, 'rounds': rounds, 'warmup': warmup,
         'processes': processes, 'reference': list(archs[ref].runs), 'params': params,
         'batches': {}, 'times_ms': {}}
  for batch, times in raw.items():
    out['batches'][batch] = summarize(archs, times, ref)
    out['times_ms'][batch] = [t.tolist() for t in times]
  return out


def _measure_in_processes(run_globs, batches, rounds, warmup, processes):
  """{batch: [times of each process]}: `analysis latency` with one process,
  run `processes` times in fresh interpreters."""
  raw = {str(b): [] for b in batches}
  with tempfile.TemporaryDirectory() as tmp:
    for i in range(processes):
      out = os.path.join(tmp, str(i))
      cmd = [sys.executable, '-m', 'kdjax.analysis', 'latency', f'--out={out}',
             '--processes=1', f'--rounds={rounds}', f'--warmup={warmup}',
             f'--batches={",".join(map(str, batches))}', f'--seed={i}'] + [
                 f'--runs={g}' for g in run_globs]
      done = subprocess.run(cmd, capture_output=True, text=True, check=False)
      if done.returncode:
        raise errors.KdjaxError(f'latency process {i} failed: '
                                f'{done.stderr.strip().splitlines()[-1:]}')
      with open(os.path.join(out, 'latency.json')) as f:
        result = json.load(f)
      for b in raw:
        raw[b].append(np.asarray(result['times_ms'][b][0]))
  return raw


def verdict(point_low_high) -> str:
  """'faster', 'slower' or 'no difference' from a speed-up and its interval."""
  _, low, high = point_low_high
  return 'faster' if low > 1 else 'slower' if high < 1 else 'no difference'


def markdown(result, title) -> str:
  lines = [f'# {title}', '',
           f'Device: {result["device"]}, jax {result["jax"]}. {result["method"]}; '
           f'{result["warmup"]} warm-up calls, {result["rounds"]} rounds in each of '
           f'{result.get("processes", 1)} fresh processes. Median '
           'ms/sample with its 95 % bootstrap interval (processes, then rounds, '
           'resampled) and the IQR; speed-up = '
           'the reference\'s median / this one\'s, with a 95 % bootstrap interval '
           'over rounds, called faster or slower only when it excludes 1. '
           f'Reference: {", ".join(result["reference"])}.', '']
  for batch, rows in result['batches'].items():
    lines += [f'## Batch {batch}', '',
              '| runs | params | median (ms/sample) | 95 % CI | IQR | speed-up vs '
              'reference (95 % CI) | |', '|---|---:|---:|---:|---:|---:|---|']
    for row, params in zip(rows, result['params']):
      s = row['speedup_vs_reference']
      lines.append(
          f'| {", ".join(row["runs"])} | {params:,} | {row["median_ms"]:.4f} | '
          f'{row["median_ci95"][0]:.4f}–{row["median_ci95"][1]:.4f} | '
          f'{row["iqr_ms"][0]:.4f}–{row["iqr_ms"][1]:.4f} | {s[0]:.2f}x '
          f'({s[1]:.2f}–{s[2]:.2f}) | {verdict(s)} |')
    lines.append('')
  return '\n'.join(lines)
