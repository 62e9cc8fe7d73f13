"""Whether a re-trained teacher is the committed one (experiments/run_method_table.sh).

  python experiments/teacher_check.py first_epoch COMMITTED/metrics.json PROBE/metrics.json
  python experiments/teacher_check.py params COMMITTED/metrics.json RETRAINED/metrics.json
  python experiments/teacher_check.py redraw_first_epoch COMMITTED/metrics.json PROBE/metrics.json
  python experiments/teacher_check.py redraw_params COMMITTED/metrics.json RETRAINED/metrics.json
  python experiments/teacher_check.py redrawn_first_epoch COLLECTED/metrics.json PROBE/metrics.json
  python experiments/teacher_check.py redrawn COLLECTED/metrics.json RETRAINED/metrics.json

`first_epoch`: the first epoch's training and test loss and accuracy of a
one-epoch probe run against the committed teacher's, bit for bit (minutes,
not the whole teacher's 44-66: 2,651-3,958 training s in table2.md; XLA:CPU
compiles for its host, so another kind of machine already rounds epoch 1
differently). `params`: the re-trained teacher's `params_sha256` against
the committed one's. The `redraw_` checks refuse the opposite (REDRAW=1, a
re-drawn seed: only where this machine does not re-make the committed
teacher); `redrawn_first_epoch` and `redrawn`: the teacher in RUNS_DIR
against the re-drawn one whose rows are collected. Exit 2 with one line
(naming both machines, `trained_on`, kdjax/provenance.py, where they
differ).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax import provenance  # pylint: disable=wrong-import-position

_FIRST_EPOCH = ('train_loss', 'train_accuracy', 'test_loss', 'test_accuracy')


def _machines(committed, here, label='committed') -> str:
  return (f'this one on {provenance.describe(here.get("trained_on"))}, the {label} one on '
          f'{provenance.describe(committed.get("trained_on"))}')


def _first_epoch(metrics):
  return {k: metrics['history'][0][k] for k in _FIRST_EPOCH}


def first_epoch(committed_path, probe_path, label='committed', alternative=' (or REDRAW=1: '
                'docs/reproducing.md)'):
  """None if the probe's first epoch equals the committed teacher's, else the error."""
  committed, probe = map(outputs.read_json, (committed_path, probe_path))
  want, got = _first_epoch(committed), _first_epoch(probe)
  if want == got:
    return None
  key = next(k for k in _FIRST_EPOCH if want[k] != got[k])
  return (f"the teacher's first epoch ({probe_path}) has {key} {got[key]!r}, the {label} "
          f'{committed_path} {want[key]!r} ({_machines(committed, probe, label)}): this '
          'machine rounds differently, so the whole teacher would differ; expected a machine '
          f'of the kind that trained the {label} teacher{alternative}')


def params(committed_path, retrained_path, expected='the same teacher (or REDRAW=1: '
           'docs/reproducing.md)', label='committed'):
  """None if the re-trained teacher's parameters are the committed ones, else the error."""
  committed, retrained = map(outputs.read_json, (committed_path, retrained_path))
  if committed['params_sha256'] == retrained['params_sha256']:
    return None
  return (f"the teacher {retrained_path} has params_sha256 {retrained['params_sha256'][:16]}, "
          f"the {label} {committed_path} {committed['params_sha256'][:16]} "
          f'({_machines(committed, retrained, label)}); expected {expected}')


def redrawn(collected_path, retrained_path):
  """None if the teacher in RUNS_DIR is the re-drawn one already collected."""
  return params(collected_path, retrained_path,
                expected='the re-drawn teacher whose rows are collected (the RUNS_DIR that '
                'trained them, or a machine of its kind)', label='re-drawn')


def redrawn_first_epoch(collected_path, probe_path):
  """None if the probe's first epoch equals the collected re-drawn teacher's."""
  return first_epoch(collected_path, probe_path, label='re-drawn', alternative='')


def _redraw(what, committed_path, path, same):
  if not same:
    return None
  return (f'{path} has the {what} of the committed {committed_path}: this machine re-makes '
          'the committed teacher; expected REDRAW only where it does not (run without it)')


def redraw_first_epoch(committed_path, probe_path):
  """None if the probe's first epoch differs from the committed teacher's."""
  return _redraw('first epoch', committed_path, probe_path,
                 first_epoch(committed_path, probe_path) is None)


def redraw_params(committed_path, retrained_path):
  """None if the re-trained teacher is not the committed one."""
  return _redraw('params_sha256', committed_path, retrained_path,
                 params(committed_path, retrained_path) is None)


def main(argv):
  checks = {'first_epoch': first_epoch, 'params': params, 'redraw_first_epoch': redraw_first_epoch,
            'redraw_params': redraw_params, 'redrawn_first_epoch': redrawn_first_epoch,
            'redrawn': redrawn}
  if len(argv) != 3 or argv[0] not in checks:
    print(f'kdjax: error: {" ".join(argv)!r}; expected {"|".join(checks)} COMMITTED '
          'OTHER (metrics.json files)', file=sys.stderr)
    return 2
  error = checks[argv[0]](*argv[1:])
  if error:
    print(f'kdjax: error: {error}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
