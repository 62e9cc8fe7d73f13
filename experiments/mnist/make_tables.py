"""Writes the MNIST tables (comparison study, Tables 1 and 3) from collected runs.

  python experiments/mnist/make_tables.py

Reads experiments/results/mnist/runs/<row>_s<seed>/ (written by run_study.sh)
and writes table1.md, table3.md and table1_partial.md (teacher, student, KD)
beside the study's printed numbers.
"""

import glob
import os
import statistics

from kdjax import outputs
from kdjax.analysis import runs as runs_lib

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'results',
                       'mnist')
# Comparison study (seeds/004): (errors, accuracy %, params, latency ms).
TABLE1 = {'teacher': (105, 98.95, '2.4M', '0.216 ± 0.062'),
          'student': (123, 98.77, '1.3M', '0.167 ± 0.020'),
          'kd': (115, 98.85, '1.3M', '0.174 ± 0.023'),
          'fitnet': (117, 98.83, '509K', '0.263 ± 0.027'),
          'rkd': (118, 98.82, '1.3M', '0.154 ± 0.002')}
TABLE3 = {'teacher': TABLE1['teacher'],
          'student_bn': (127, 98.73, '1.3M', '0.316 ± 0.035'),
          'kd_bn': (108, 98.92, '1.3M', '0.307 ± 0.038'),
          'fitnet_bn': (120, 98.80, '512K', '0.514 ± 0.044'),
          'rkd_bn': (92, 99.08, '1.3M', '0.297 ± 0.023')}
NAMES = {'teacher': 'Teacher', 'student': 'Student Normal', 'kd': 'Vanilla KD',
         'fitnet': 'FitNet', 'rkd': 'RKD'}

HEADER = """Real MNIST (byte-exact, `../shared/data/mnist`), full size: 20 epochs, Adam
1e-3 with L2 1e-4, batch 256, ±2 px random translation; KD and FitNet stage 2
T=20, α=0.1; RKD β=100 (distance-wise); FitNet stage 1: 10 epochs of hint
training (the study gives no number). CPU, 2 cores, JAX {jax}.

Accuracy is the **final epoch's** test accuracy (no checkpoint selection);
mean ± sample std over seeds {seeds}; "Err." is the mean error count. Each
student of seed *s* is distilled from the teacher of seed *s*. Latency: jitted
forward at batch 1 on this CPU, mean ± std over the seeds' run means (each run
times 200 calls); the study timed a Tesla T4 GPU with PyTorch, so compare
ratios, not milliseconds.
"""


def _runs(row):
  paths = sorted(glob.glob(os.path.join(RESULTS, 'runs', f'{row}_s*')))
  return [runs_lib.load(p) for p in paths]


def _ms(values, fmt):
  if len(values) == 1:
    return fmt.format(values[0])
  return f'{fmt.format(statistics.fmean(values))} ± {fmt.format(statistics.stdev(values))}'


def _wall(run):
  with open(os.path.join(run.path, 'wall_seconds.txt')) as f:
    return int(f.read())


def table(title, study, note=''):
  lines = [f'# {title}', '']
  jax_version, seeds = '?', set()
  summary = ['| Model | Acc. (%) | Err. | Params | Lat. (ms/sample) | Study Err. | '
             'Study Acc. | Study Params | Study Lat. (ms) | Δ Acc. vs study (pt) |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
  each = ['| Model | Seed | Acc. (%) | Err. | Lat. (ms/sample) | Train (s) | Wall (s) |',
          '|---|---:|---:|---:|---:|---:|---:|']
  for row, (s_err, s_acc, s_params, s_lat) in study.items():
    runs = _runs(row)
    if not runs:
      continue
    name = NAMES.get(row) or NAMES[row.replace('_bn', '')] + ' (BN+res)'
    acc = [r.metrics['test']['accuracy'] for r in runs]
    err = [r.metrics['test']['errors'] for r in runs]
    lat = [r.metrics['latency']['ms_per_sample_mean'] for r in runs]
    jax_version = runs[0].metrics.get('jax_version', '?')
    seeds |= {r.seed for r in runs}
    summary.append(
        f'| {name} | {_ms(acc, "{:.2f}")} | {statistics.fmean(err):.1f} | '
        f'{runs[0].metrics["params"]:,} | {_ms(lat, "{:.3f}")} | {s_err} | {s_acc} | '
        f'{s_params} | {s_lat} | {statistics.fmean(acc) - s_acc:+.2f} |')
    for r in runs:
      m = r.metrics
      train_s = m['train_seconds'] + m.get('stage1_train_seconds', 0.0)
      each.append(f'| {name} | {r.seed} | {m["test"]["accuracy"]:.2f} | '
                  f'{m["test"]["errors"]} | {m["latency"]["ms_per_sample_mean"]:.3f} | '
                  f'{train_s:.0f} | {_wall(r)} |')
  lines.append(HEADER.format(jax=jax_version, seeds=sorted(seeds)))
  if note:
    lines += [note, '']
  lines += summary + ['', '## Each run', ''] + each + [
      '', '## Commands', '', '```bash',
      'for seed in 0 1 2; do bash experiments/mnist/run_study.sh $seed; done',
      'python experiments/mnist/make_tables.py', '```', '']
  return '\n'.join(lines)


def main():
  outputs.write_text(os.path.join(RESULTS, 'table1.md'), table(
      'Comparison study, Table 1: MNIST, reproduced', TABLE1))
  outputs.write_text(os.path.join(RESULTS, 'table3.md'), table(
      'Comparison study, Table 3: MNIST after the BN + residual change, reproduced',
      TABLE3, 'The teacher is the same run as in Table 1 (no BN), as in the study.'))
  partial = {k: TABLE1[k] for k in ('teacher', 'student', 'kd')}
  outputs.write_text(os.path.join(RESULTS, 'table1_partial.md'), table(
      'Comparison study, Table 1 (teacher, student, vanilla KD): MNIST, reproduced',
      partial))
  print(open(os.path.join(RESULTS, 'table1.md')).read())


if __name__ == '__main__':
  main()
