"""Statistics on finished runs, from the command line.

  python -m kdjax.analysis mcnemar --a=RUN_OR_NPZ --b=RUN_OR_NPZ
  python -m kdjax.analysis report --runs='experiments/results/mnist/runs/*' \\
      --out=experiments/results/mnist/report [--pairs=student:kd,student:rkd] \\
      [--latency=experiments/results/mnist/latency.json]
  python -m kdjax.analysis latency --runs='experiments/results/mnist/runs/*' \\
      --out=experiments/results/mnist [--rounds=200 --batches=1,256]
"""

import os

from absl import flags

from kdjax import cli
from kdjax import errors
from kdjax import outputs
from kdjax.analysis import latency as latency_lib
from kdjax.analysis import report as report_lib
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats

flags.DEFINE_string('a', None, 'mcnemar: run directory or predictions .npz of A.')
flags.DEFINE_string('b', None, 'mcnemar: run directory or predictions .npz of B.')
flags.DEFINE_multi_string('runs', None, 'report: glob of run directories (repeatable).')
flags.DEFINE_string('out', None, 'report: output directory.')
flags.DEFINE_list('pairs', None,
                  'report: comparisons A:B by group name (default: each method '
                  'vs its baseline, each BN+residual change).')
flags.DEFINE_string('title', 'kdjax report', 'report: title.')
flags.DEFINE_string('latency', None, 'report: latency.json of `latency` for the '
                    'latency columns (default: each run\'s own timing).')
flags.DEFINE_integer('rounds', 200, 'latency: interleaved rounds per batch size.')
flags.DEFINE_integer('warmup', 20, 'latency: untimed calls per model first.')
flags.DEFINE_list('batches', ['1', '256'], 'latency: batch sizes.')
flags.DEFINE_integer('processes', 3, 'latency: fresh processes to measure in '
                     '(their variation enters the intervals).')
flags.DEFINE_integer('seed', 0, 'latency: seed of the round order.')
FLAGS = flags.FLAGS
COMMANDS = ('mcnemar', 'report', 'latency')


def mcnemar():
  if not (FLAGS.a and FLAGS.b):
    raise errors.ConfigError('mcnemar needs --a and --b (run dirs or .npz files)')
  r = stats.mcnemar(runs_lib.read_predictions(FLAGS.a),
                    runs_lib.read_predictions(FLAGS.b), names=(FLAGS.a, FLAGS.b))
  print(f'A: {FLAGS.a}\nB: {FLAGS.b}\n'
        f'improved (wrong in A, right in B): {r.improved}\n'
        f'degraded (right in A, wrong in B): {r.degraded}\n'
        f'chi2 (continuity-corrected): {r.chi2:.4f}\n'
        f'p (chi2, 1 dof): {r.p_chi2:.4g}\n'
        f'p (exact binomial): {r.p_exact:.4g}\n'
        f'test used: {r.test}\n'
        f'significant at 0.05: {"yes" if r.significant() else "no"}')


def _pair(groups, pair):
  """(group A, group B) of a --pairs entry 'A:B'; a name of no group or of
  several is refused, listing the candidates."""
  names = pair.split(':')
  if len(names) != 2:
    raise errors.ConfigError(
        f'--pairs entry {pair!r} is invalid; expected A:B with names from '
        f'{sorted(g.name for g in groups)}')
  return tuple(runs_lib.named(groups, n, f'--pairs entry {pair!r}') for n in names)


def report():
  if not (FLAGS.runs and FLAGS.out):
    raise errors.ConfigError('report needs --runs (a glob) and --out (a directory)')
  if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
    raise errors.ConfigError(f'--out={FLAGS.out!r} is a file; expected a directory '
                             'for report.md and the plots')
  groups = runs_lib.group(runs_lib.load_glob(*FLAGS.runs))
  pairs = [_pair(groups, pair) for pair in FLAGS.pairs] if FLAGS.pairs else None
  latency = None
  if FLAGS.latency:
    try:
      latency = outputs.read_json(FLAGS.latency)
    except (OSError, ValueError) as e:
      raise errors.DataError(f'--latency={FLAGS.latency!r} is not readable ({e}); '
                             'expected the latency.json of `analysis latency`') from None
  print(report_lib.write(groups, FLAGS.out, pairs, FLAGS.title, latency))


def latency():
  if not (FLAGS.runs and FLAGS.out):
    raise errors.ConfigError('latency needs --runs (a glob) and --out (a directory)')
  if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
    raise errors.ConfigError(f'--out={FLAGS.out!r} is a file; expected a directory')
  try:
    batches = [int(b) for b in FLAGS.batches]
  except ValueError:
    batches = []
  if (not batches or min(batches) < 1 or FLAGS.rounds < 3 or FLAGS.warmup < 0
      or FLAGS.processes < 1):
    raise errors.ConfigError(
        f'--batches={FLAGS.batches} --rounds={FLAGS.rounds} --warmup={FLAGS.warmup} '
        f'--processes={FLAGS.processes} are invalid; expected batch sizes >= 1, '
        'rounds >= 3, warmup >= 0, processes >= 1')
  groups = runs_lib.group(runs_lib.load_glob(*FLAGS.runs))
  result = latency_lib.benchmark(groups, batches=batches, rounds=FLAGS.rounds,
                                 warmup=FLAGS.warmup, processes=FLAGS.processes,
                                 run_globs=FLAGS.runs, seed=FLAGS.seed)
  outputs.write_json(os.path.join(FLAGS.out, 'latency.json'), result)
  text = latency_lib.markdown(result, f'Latency per architecture: {FLAGS.title}')
  outputs.write_text(os.path.join(FLAGS.out, 'latency.md'), text + '\n')
  print(text)


def main(argv):
  if len(argv) < 2:
    raise errors.ConfigError(
        f'no command given; expected one of {", ".join(COMMANDS)}, e.g. '
        "python -m kdjax.analysis report --runs='runs/*' --out=report")
  command = argv[1]
  if command not in COMMANDS:
    raise errors.ConfigError(
        f'command {command!r} is unknown; expected one of {", ".join(COMMANDS)}')
  {'mcnemar': mcnemar, 'report': report, 'latency': latency}[command]()


if __name__ == '__main__':
  cli.run(main, max_args=1)
