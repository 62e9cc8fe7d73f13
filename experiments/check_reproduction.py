"""Re-trains committed runs with today's code and compares their predictions.

  python experiments/check_reproduction.py experiments/results/mnist/runs/student_s0 [...]

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
  same = np.array_equal(old['logits'], new['logits'])
  diff = float(np.abs(old['logits'] - new['logits']).max())
  changed = int((old['predictions'] != new['predictions']).sum())
  return (f'| {os.path.relpath(run_dir, REPO)} | {"**bit-identical**" if same else "differs"} '
          f'| {diff:.3g} | {changed} |')


def main(run_dirs):
  os.chdir(REPO)  # data_dir is recorded relative to the repository
  commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                          text=True, check=False).stdout.strip()
  rows = [check(os.path.abspath(r)) for r in run_dirs]
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
