"""Re-trains committed runs with today's code and compares their predictions.

  python experiments/check_reproduction.py experiments/results/mnist/runs/student_s0 [...]
  python experiments/check_reproduction.py --compare OLD_RUNS NEW_RUNS

The second form compares runs already trained twice (the rows of OLD_RUNS/
that NEW_RUNS/ also has, e.g. a study's seed by the code before and after a
restructuring, on one machine) without training.

Each run is trained again from its own config.json (same seed, same data
from `dataset.data_dir` as recorded, relative to the repository root) in a
temporary workdir; a run whose teacher is recorded as `$RUNS_DIR/...` (as
experiments/run_study.sh collects them) uses the RUNS_DIR of the
environment, and is skipped without it. The result, logits bit-identical or not (with the
largest difference and how many predictions changed), is appended to
experiments/results/reproduction.md with the date, commit and machine.
"""

import datetime
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from kdjax import config as config_lib  # pylint: disable=wrong-import-position
from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax import train  # pylint: disable=wrong-import-position


def check(run_dir):
  config = config_lib.from_json(outputs.read_json(os.path.join(run_dir, 'config.json')))
  if config.method != 'none':
    teacher = config.teacher.workdir
    if teacher.startswith('$RUNS_DIR/') and os.environ.get('RUNS_DIR'):
      config.teacher.workdir = os.path.join(os.environ['RUNS_DIR'],
                                            teacher[len('$RUNS_DIR/'):])
    if not os.path.isdir(config.teacher.workdir):
      return f'| {os.path.relpath(run_dir, REPO)} | skipped: needs its teacher | | |'
  with tempfile.TemporaryDirectory() as workdir:
    train.train_and_evaluate(config, os.path.join(workdir, 'run'))
    new = outputs.read_predictions(os.path.join(workdir, 'run', 'predictions', 'test.npz'))
  old = outputs.read_predictions(os.path.join(run_dir, 'predictions', 'test.npz'))
  return _compare_logits(os.path.relpath(run_dir, REPO), old, new)


def _compare_logits(run_dir, old, new):
  same = np.array_equal(old['logits'], new['logits'])
  diff = float(np.abs(old['logits'] - new['logits']).max())
  changed = int((old['predictions'] != new['predictions']).sum())
  return (f'| {run_dir} | {"**bit-identical**" if same else "differs"} '
          f'| {diff:.3g} | {changed} |')


def compare(old_runs, new_runs):
  """Rows comparing each run of `old_runs` with its namesake in `new_runs`."""
  rows = []
  for name in sorted(os.listdir(old_runs)):
    new = os.path.join(new_runs, name, 'predictions', 'test.npz')
    if os.path.exists(new):
      rows.append(_compare_logits(
          name,
          outputs.read_predictions(os.path.join(old_runs, name, 'predictions', 'test.npz')),
          outputs.read_predictions(new)))
  return rows


def main(args):
  os.chdir(REPO)  # data_dir is recorded relative to the repository
  commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                          text=True, check=False).stdout.strip()
  if args[:1] == ['--compare']:
    rows = compare(*args[1:3])
  else:
    rows = [check(os.path.abspath(r)) for r in args]
  path = os.path.join(REPO, 'experiments', 'results', 'reproduction.md')
  header = '' if os.path.exists(path) else (
      '# Committed runs re-trained with later code\n\n'
      'Written by `python experiments/check_reproduction.py RUN_DIR ...`: each run '
      'trained again from its config.json; its test logits compared with the '
      'committed ones.\n')
  text = (f'\n## {datetime.date.today()}, commit {commit}, {platform.machine()} '
          f'{platform.processor() or "CPU"}\n\n| run | logits | max abs diff | '
          'predictions changed |\n|---|---|---:|---:|\n' + '\n'.join(rows) + '\n')
  with open(path, 'a') as f:
    f.write(header + text)
  print(text)


if __name__ == '__main__':
  main(sys.argv[1:])
