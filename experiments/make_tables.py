"""Writes the comparison study's tables from collected runs, beside its numbers.

  python experiments/make_tables.py

Reads experiments/results/<study>/runs/<row>_s<seed>/ (written by
experiments/run_study.sh) and writes, where runs exist: mnist/table1.md,
mnist/table3.md, mnist/table1_partial.md (teacher, student, KD) and
cifar10_cnn/table2.md.
"""

import glob
import os
import statistics

from kdjax import outputs
from kdjax.analysis import runs as runs_lib

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
# Comparison study (seeds/004): (errors, accuracy %, params, latency ms).
TABLE1 = {'teacher': (105, 98.95, '2.4M', '0.216 ± 0.062'),
          'student': (123, 98.77, '1.3M', '0.167 ± 0.020'),
          'kd': (115, 98.85, '1.3M', '0.174 ± 0.023'),
          'fitnet': (117, 98.83, '509K', '0.263 ± 0.027'),
          'rkd': (118, 98.82, '1.3M', '0.154 ± 0.002'),
          'dkd': None}  # None: a method beyond the study (no study numbers)
TABLE3 = {'teacher': TABLE1['teacher'],
          'student_bn': (127, 98.73, '1.3M', '0.316 ± 0.035'),
          'kd_bn': (108, 98.92, '1.3M', '0.307 ± 0.038'),
          'fitnet_bn': (120, 98.80, '512K', '0.514 ± 0.044'),
          'rkd_bn': (92, 99.08, '1.3M', '0.297 ± 0.023')}
TABLE2 = {'teacher': (1746, 82.54, '4.6M', '0.445'),
          'student': (2191, 78.09, '1.1M', '0.344'),
          'kd': (2153, 78.47, '1.1M', '0.317'),
          'fitnet': (2111, 78.89, '83K', '0.347'),
          'rkd': (2101, 78.99, '1.1M', '0.311'),
          'dkd': None, 'at': None}
NAMES = {'teacher': 'Teacher', 'student': 'Student Normal', 'kd': 'Vanilla KD',
         'fitnet': 'FitNet', 'rkd': 'RKD', 'dkd': 'DKD (beyond the study)',
         'at': 'Attention transfer (beyond the study)'}
# Rows beyond the study train the baseline student's architecture.
SAME_ARCHITECTURE = {'dkd': 'student', 'at': 'student'}

MNIST_HEADER = """Real MNIST (byte-exact, `../shared/data/mnist`). {scale}; Adam
1e-3 with L2 1e-4, batch 256, ±2 px random translation; KD and FitNet stage 2
T=20, α=0.1; RKD β=100 (distance-wise); FitNet stage 1: 10 epochs of hint
training (the study gives no number). Rows marked "beyond the study" are
methods the study did not run: decoupled KD (Zhao et al. 2022) with α=1, β=8,
T=4 and a 2-epoch warm-up (`configs/mnist/dkd.py`). {init} CPU, 2 cores, JAX {jax}.

Accuracy is the **final epoch's** test accuracy (no checkpoint selection);
mean ± sample std over seeds {seeds}; "Err." is the mean error count. Each
student of seed *s* is distilled from the teacher of seed *s*. The study timed
latency on a Tesla T4 GPU with PyTorch, so compare ratios, not milliseconds.
Train and wall seconds were measured while other
work shared the 2 cores at times, so they vary by up to 2x between seeds.
"""

CIFAR_COMMAND = 'for seed in 0 1 2; do bash experiments/run_study.sh cifar10_cnn $seed; done'
CIFAR_HEADER = """Real CIFAR-10 images (`../shared/data/cifar10-jpeg`: JPEG quality 75, so a
little below the PNG-exact data), horizontal flips, Adam 1e-3, batch 128;
KD and FitNet stage 2 T=4, α=0.1; RKD β=100; FitNet stage 1: 5 epochs of hint
training (the study gives no length). Rows marked "beyond the study": decoupled
KD (α=1, β=8, T=4, 2-epoch warm-up) and attention transfer (β=1000, p=2, the
16x16 and 8x8 blocks paired), `configs/cifar10_cnn/{{dkd,at}}.py`. {init}
CPU, 2 cores, JAX {jax}.

**{scale}**

Accuracy is the final epoch's test accuracy on all 10,000 test images, mean ±
sample std over seeds {seeds}; each student of seed *s* is distilled from the
teacher of seed *s*. KD, RKD and FitNets' KD stage read the teacher's outputs
from the teacher-output cache (2 variants per image: flipped or not). The
study timed latency on a T4 GPU. Train and wall
seconds were measured while other work (tests, benchmarks) shared the 2
cores, so they are upper bounds.
"""


def _runs(study, row):
  paths = sorted(glob.glob(os.path.join(RESULTS, study, 'runs', f'{row}_s*')))
  return [runs_lib.load(p) for p in paths]


def _ms(values, fmt):
  if len(values) == 1:
    return fmt.format(values[0])
  return f'{fmt.format(statistics.fmean(values))} ± {fmt.format(statistics.stdev(values))}'


def _scale(runs):
  """'Full size: ...' or 'REDUCED: ...' from the runs' own configs."""
  config = runs[0].config
  epochs, subset = config['train']['epochs'], config['dataset']['train_subset']
  images = f"a fixed random {subset:,}" if subset else "all"
  full = epochs == 20 and not subset
  return (f'{"Full size" if full else "REDUCED (the study: 20 epochs on all images)"}: '
          f'{epochs} epochs on {images} training images')


def _init(runs):
  """The sentence naming the runs' weight initialisation (issue 25)."""
  schemes = {r.config['model']['param_init'] for r in runs}
  if schemes == {'torch'}:
    return ("Weights drawn as PyTorch's layers draw them (`model.param_init='torch'`, "
            'the default); the Flax-initialised runs made before it are in '
            '`flax_init/runs/`, compared row by row in [init_effect.md](init_effect.md).')
  if schemes == {'flax'}:
    return ("Flax's default initialisation (`model.param_init='flax'`: LeCun-normal "
            'kernels, zero biases).')
  return f'MIXED initialisations {sorted(schemes)}: do not compare these rows.'


def _latency(study_dir):
  """`analysis latency`'s result for the study, if it has been measured."""
  path = os.path.join(RESULTS, study_dir, 'latency.json')
  return outputs.read_json(path) if os.path.exists(path) else None


def _arch_latency(latency, row):
  """'median (low–high)' at batch 1 of the architecture row `row` uses."""
  row = SAME_ARCHITECTURE.get(row, row)
  for r in latency['batches']['1']:
    if row in r['runs']:
      return f'{r["median_ms"]:.3f} ({r["median_ci95"][0]:.3f}–{r["median_ci95"][1]:.3f})'
  return 'n/a'


def table(title, study_dir, study, header, command, note=''):
  lines = [f'# {title}', '']
  latency = _latency(study_dir)
  jax_version, seeds, every = '?', set(), []
  summary = ['| Model | Acc. (%) | Err. | Params | Lat. (ms/sample) | Study Err. | '
             'Study Acc. | Study Params | Study Lat. (ms) | Δ Acc. vs study (pt) |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
  each = ['| Model | Seed | Acc. (%) | Err. | Own lat. (ms/sample) | Train (s; FitNet: '
          'hint + KD stages) | Wall (s) |',
          '|---|---:|---:|---:|---:|---:|---:|']
  for row, numbers in study.items():
    runs = _runs(study_dir, row)
    if not runs:
      continue
    s_err, s_acc, s_params, s_lat = numbers or ('—',) * 4
    name = NAMES.get(row) or NAMES[row.replace('_bn', '')] + ' (BN+res)'
    acc = [r.metrics['test']['accuracy'] for r in runs]
    err = [r.metrics['test']['errors'] for r in runs]
    lat = [r.metrics['latency']['ms_per_sample_mean'] for r in runs]
    jax_version = runs[0].metrics.get('jax_version', '?')
    seeds |= {r.seed for r in runs}
    every += runs
    mean_err = f'{statistics.fmean(err):.1f}' if len(err) > 1 else str(err[0])
    delta = ('n/a (reduced)' if _scale(runs).startswith('REDUCED') else
             '—' if numbers is None else f'{statistics.fmean(acc) - s_acc:+.2f}')
    summary.append(
        f'| {name} | {_ms(acc, "{:.2f}")} | {mean_err} | '
        f'{runs[0].metrics["params"]:,} | '
        f'{_arch_latency(latency, row) if latency else _ms(lat, "{:.3f}")} | '
        f'{s_err} | {s_acc} | '
        f'{s_params} | {s_lat} | {delta} |')
    for r in runs:
      m = r.metrics
      train_s = m['train_seconds'] + m.get('stage1_train_seconds', 0.0)
      wall = r.wall()
      stalled = wall.isdigit() and train_s > int(wall)
      each.append(f'| {name} | {r.seed} | {m["test"]["accuracy"]:.2f} | '
                  f'{m["test"]["errors"]} | {m["latency"]["ms_per_sample_mean"]:.3f} | '
                  f'{train_s:.0f}{"†" if stalled else ""} | {wall} |')
  if not seeds:
    return None
  lines.append(header.format(jax=jax_version, seeds=sorted(seeds), init=_init(every),
                             scale=_scale(_runs(study_dir, 'teacher') or runs)))
  if latency:
    note = (note + '\n\n' if note else '') + (
        'Lat. (ms/sample): one measurement per architecture, `python -m '
        f'kdjax.analysis latency` ([latency.md](latency.md), {latency["device"]}): '
        'the median at batch 1 with its 95 % bootstrap interval; rows that share '
        'an architecture share the number. The per-run column below is each '
        "run's own timing.")
  else:
    note = (note + '\n\n' if note else '') + (
        "Lat. (ms/sample): each run's own timing at batch 1 (200 jitted calls "
        'after training), mean ± std over seeds; it moves with what the machine '
        'was doing (`python -m kdjax.analysis latency` measures architectures).')
  if note:
    lines += [note, '']
  if any('≥' in line for line in each):
    each += ['', '≥: the run resumed from a checkpoint after a stop; the wall time is '
             "its last segment's (the earlier segments' was not recorded)."]
  if any('†' in line for line in each):
    each += ['', "†: more train seconds (summed per epoch in the run's history) than "
             "the shell's wall seconds, so one of the machine's clocks jumped during "
             "the run (the history shows which epoch); the accuracy is unaffected."]
  lines += summary + ['', '## Each run', ''] + each + [
      '', '## Commands', '', '```bash', command,
      'python experiments/make_tables.py', '```', '']
  return '\n'.join(lines)


def _write(path, text):
  if text is not None:
    outputs.write_text(path, text)
    print(f'wrote {path}')


def main():
  mnist_cmd = 'for seed in 0 1 2; do bash experiments/run_study.sh mnist $seed; done'
  _write(os.path.join(RESULTS, 'mnist', 'table1.md'), table(
      'Comparison study, Table 1: MNIST, reproduced', 'mnist', TABLE1,
      MNIST_HEADER, mnist_cmd))
  _write(os.path.join(RESULTS, 'mnist', 'table3.md'), table(
      'Comparison study, Table 3: MNIST after the BN + residual change, reproduced',
      'mnist', TABLE3, MNIST_HEADER, mnist_cmd,
      'The teacher is the same run as in Table 1 (no BN), as in the study.'))
  _write(os.path.join(RESULTS, 'mnist', 'table1_partial.md'), table(
      'Comparison study, Table 1 (teacher, student, vanilla KD): MNIST, reproduced',
      'mnist', {k: TABLE1[k] for k in ('teacher', 'student', 'kd')}, MNIST_HEADER,
      mnist_cmd))
  _write(os.path.join(RESULTS, 'cifar10_cnn', 'table2.md'), table(
      'Comparison study, Table 2: CIFAR-10 CNNs', 'cifar10_cnn', TABLE2,
      CIFAR_HEADER, CIFAR_COMMAND))


if __name__ == '__main__':
  main()
