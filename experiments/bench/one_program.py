"""Several methods' students as one program against the same students run
one by one: the saving of sharing the teacher's forward pass.

  python experiments/bench/one_program.py --teacher=runs/cifar10_cnn/teacher \
      --data_dir=../shared/data/cifar10-jpeg --workdir=/tmp/one_program \
      [--epochs=3 --train_subset=12000]
  # -> experiments/results/methods/one_program.md
  python experiments/bench/one_program.py ... \
      --sweep=experiments/sweeps/rows.py:cifar10_cnn:student+at+sp+vid+crd \
      --out=experiments/results/methods/one_program_features.md

The points of experiments/sweeps/cifar10_cnn_methods.py (none, KD, DKD, DIST,
attention transfer; seed 0), first each alone (`kdjax.main`; KD, DKD and
DIST read the teacher-output cache where it pays, as they would), then all
as one program (`kdjax.sweep`, 'vmap': True). Per run: training seconds
(compile excluded), the cache's build seconds, samples/s. A run shorter
than the study's 20 epochs on all 50,000 images is labelled REDUCED, and the
table extrapolates each to 20 epochs on 50,000 images from its measured
per-sample cost (the cache build scales with the images, not the epochs).
"""

import os
import subprocess
import sys

from absl import app
from absl import flags

from kdjax import outputs
from kdjax import sweep

FLAGS = flags.FLAGS
flags.DEFINE_string('teacher', None, 'a finished CIFAR-10 CNN teacher workdir', required=True)
flags.DEFINE_string('data_dir', '../shared/data/cifar10-jpeg', 'CIFAR-10 images')
flags.DEFINE_string('workdir', None, 'where the runs go (a new folder)', required=True)
flags.DEFINE_integer('epochs', 3, 'epochs of each run (the cache needs >= 3 to pay)')
flags.DEFINE_string('sweep', 'experiments/sweeps/cifar10_cnn_methods.py',
                    'the points (a sweep file, file.py:ARG as kdjax.sweep takes it)')
flags.DEFINE_string('out', 'experiments/results/methods/one_program.md',
                    'the table (relative to the repository)')
flags.DEFINE_integer('train_subset', 12000, 'training images (0 = all 50,000); from '
                     '11,000 on, attention transfer\'s maps no longer fit the '
                     'teacher cache, as on all 50,000')

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sets():
  return {'teacher.workdir': FLAGS.teacher, 'dataset.data_dir': FLAGS.data_dir,
          'train.epochs': FLAGS.epochs, 'dataset.train_subset': FLAGS.train_subset}


def _run(args):
  print('$', ' '.join(args), flush=True)
  subprocess.run([sys.executable, '-m'] + args, check=True, cwd=REPO)


def _row(label, train_s, cache_s, used, samples, images, scale):
  """A table line and the run's seconds extrapolated to 20 epochs on 50,000."""
  full = train_s * scale + cache_s * 50000 / images
  return (f'| {label} | {"yes" if used else "no"} | {train_s:.0f} | {cache_s:.0f} | '
          f'{samples / train_s:.0f} | {full:.0f} |'), train_s + cache_s, full


def main(_):
  spec = sweep.get_sweep_file(os.path.join(REPO, FLAGS.sweep))
  alone = {}
  for name, overrides in sweep.points(spec):
    overrides = dict(overrides)
    config_file = overrides.pop('config', spec['config'])  # a point's own config file
    config_args = [f'--config.{k}={v!r}' if isinstance(v, tuple) else f'--config.{k}={v}'
                   for k, v in {**overrides, **_sets()}.items()]
    workdir = os.path.join(FLAGS.workdir, 'alone', name)
    _run(['kdjax.main', f'--config={config_file}', f'--workdir={workdir}'] + config_args)
    alone[name] = outputs.read_json(os.path.join(workdir, 'metrics.json'))
  _run(['kdjax.sweep', f'--sweep={FLAGS.sweep}', f'--workdir={os.path.join(FLAGS.workdir, "program")}'] +
       [f'--set={k}={v}' for k, v in _sets().items()])
  program = [outputs.read_json(os.path.join(FLAGS.workdir, 'program', name, 'metrics.json'))
             for name, _ in sweep.points(spec)]
  first = next((m for m in program if m.get('teacher_cache')), program[0])
  images = FLAGS.train_subset or 50000
  scale = (20 * 50000) / (FLAGS.epochs * images)  # to the study's 20 epochs on 50,000
  reduced = FLAGS.epochs != 20 or images != 50000
  lines = [
      '# Several methods in one program vs one by one (CIFAR-10 CNN pair)', '',
      f'Made by `python experiments/bench/one_program.py --epochs={FLAGS.epochs} '
      f'--train_subset={FLAGS.train_subset} --sweep={FLAGS.sweep}` (seed 0). ' +
      (f'**REDUCED**: {FLAGS.epochs} epochs on {images:,} training images; the '
       '"20 epochs" column extrapolates each run to the study\'s 20 epochs on 50,000 '
       'images from its measured seconds per sample (the cache build scales with '
       'the images). ' if reduced else '') +
      'Training seconds are the epochs\' (compilation excluded); building the '
      'teacher-output table comes on top (its own column). CPU: the machine\'s '
      'cores, nothing else running.', '',
      '| run | teacher cache | train s | cache build s | samples/s (training) | 20 epochs, 50,000 images: s |',
      '|---|---|---:|---:|---:|---:|']
  samples = FLAGS.epochs * images
  total = total_20 = 0.0
  for name, m in alone.items():
    line, seconds, full = _row(f'{name} alone', m['train_seconds'],
                               m.get('teacher_cache_seconds', 0.0),
                               (m.get('teacher_cache') or {}).get('used'), samples, images, scale)
    lines.append(line)
    total, total_20 = total + seconds, total_20 + full
  grid = first['grid']
  n = grid['students']
  line, seconds, full = _row(f'all {n} as one program', grid['train_seconds'],
                             grid['teacher_cache_seconds'],
                             (first.get('teacher_cache') or {}).get('used'), n * samples,
                             images, scale)
  lines += [line, f'| the {n} alone, summed | | {total:.0f} (with the cache builds) | | | '
            f'{total_20:.0f} |', '',
            f'One program: **{total / seconds:.2f}x** the speed of the runs one by one '
            f'as measured (training and cache builds), {total_20 / full:.2f}x '
            'extrapolated to 20 epochs on 50,000 images.', '']
  path = os.path.join(REPO, FLAGS.out)
  outputs.write_text(path, '\n'.join(lines))
  print(f'wrote {path}')


if __name__ == '__main__':
  app.run(main)
