"""Whether a re-trained teacher is the committed one (experiments/run_method_table.sh).

  python experiments/teacher_check.py first_epoch COMMITTED/metrics.json PROBE/metrics.json
  python experiments/teacher_check.py params COMMITTED/metrics.json RETRAINED/metrics.json

`first_epoch`: the first epoch's training and test loss and accuracy of a
one-epoch probe run against the committed teacher's, bit for bit (minutes,
not the whole teacher's 44-66: 2,651-3,958 training s in table2.md; XLA:CPU
compiles for its host, so another kind of machine already rounds epoch 1
differently). `params`: the re-trained
teacher's `params_sha256` against the committed one's. Exit 2 with one
line naming both machines (`trained_on`, kdjax/provenance.py) where they
differ.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax import provenance  # pylint: disable=wrong-import-position

_FIRST_EPOCH = ('train_loss', 'train_accuracy', 'test_loss', 'test_accuracy')


def _machines(committed, here) -> str:
  return (f'this one on {provenance.describe(here.get("trained_on"))}, the committed one on '
          f'{provenance.describe(committed.get("trained_on"))}')


def first_epoch(committed_path, probe_path):
  """None if the probe's first epoch equals the committed teacher's, else the error."""
  committed, probe = map(outputs.read_json, (committed_path, probe_path))
  want, got = ({k: m['history'][0][k] for k in _FIRST_EPOCH} for m in (committed, probe))
  if want == got:
    return None
  key = next(k for k in _FIRST_EPOCH if want[k] != got[k])
  return (f"the teacher's first epoch ({probe_path}) has {key} {got[key]!r}, the committed "
          f'{committed_path} {want[key]!r} ({_machines(committed, probe)}): this machine '
          'rounds differently, so the whole teacher would differ; expected a machine of the '
          'kind that trained the committed teacher (or REDRAW=1: docs/reproducing.md)')


def params(committed_path, retrained_path):
  """None if the re-trained teacher's parameters are the committed ones, else the error."""
  committed, retrained = map(outputs.read_json, (committed_path, retrained_path))
  if committed['params_sha256'] == retrained['params_sha256']:
    return None
  return (f"the teacher {retrained_path} has params_sha256 {retrained['params_sha256'][:16]}, "
          f"the committed {committed_path} {committed['params_sha256'][:16]} "
          f'({_machines(committed, retrained)}); expected the same teacher (or REDRAW=1: '
          'docs/reproducing.md)')


def main(argv):
  checks = {'first_epoch': first_epoch, 'params': params}
  if len(argv) != 3 or argv[0] not in checks:
    print(f'kdjax: error: {" ".join(argv)!r}; expected first_epoch|params COMMITTED '
          'OTHER (metrics.json files)', file=sys.stderr)
    return 2
  error = checks[argv[0]](*argv[1:])
  if error:
    print(f'kdjax: error: {error}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
