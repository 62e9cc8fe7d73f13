"""Writes a study's method table: every method's row against the baseline
student and vanilla KD (kdjax/analysis/method_table.py).

  python experiments/method_table.py STUDY   # mnist or cifar10_cnn
  # -> experiments/results/methods/STUDY.md

Reads the study's runs, experiments/results/STUDY/runs/<row>_s<seed>/
(experiments/run_study.sh writes them; the method rows, e.g.
`bash experiments/run_study.sh cifar10_cnn 0 dist dist_ls kd_ls dkd_ls mlkd mlkd_ls ctkd`,
are distilled from the same teachers as the study's rows), and where they
exist the runs of a re-drawn seed, experiments/results/STUDY/redrawn/runs/:
the seed's teacher re-trained on a CPU kind that could not re-make the
committed one bit for bit, and rows distilled from it
(`REDRAW=1 bash experiments/run_method_table.sh SEED`, cifar10_cnn).
"""

import os
import sys

from kdjax import methods
from kdjax import outputs
from kdjax.analysis import compare
from kdjax.analysis import method_table

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, 'results')
TITLES = {'mnist': 'MNIST 800-800 student (Table 1 protocol)',
          'cifar10_cnn': 'CIFAR-10 CNN pair (Table 2 protocol)'}


def rows(study):
  """The teacher, the plain student, then every registered method (registry
  order) that has a config of the study, each followed by its logit-
  standardised variant (`<method>_ls`). Table 3's BN + residual rows
  (`*_bn`) are another student and are compared in its own table."""
  have = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(HERE, '..', 'configs', study))}
  ordered = ['teacher', 'student']
  for name in methods.names():
    ordered += [row for row in (name, f'{name}_ls') if row in have and row not in ordered]
  return tuple(ordered)


def main(study):
  if study not in TITLES:
    print(f'kdjax: error: study {study!r} is unknown; expected one of {sorted(TITLES)}',
          file=sys.stderr)
    sys.exit(2)
  text = '\n'.join([
      f'# Methods on the {TITLES[study]}', '',
      f'Made by `python experiments/method_table.py {study}` from '
      f'`experiments/results/{study}/runs/`. Final-epoch test accuracy, mean ± '
      'std over seeds and the 95 % t interval of the mean; Δ: the row minus '
      'the baseline student (or vanilla KD), mean over seeds, with the paired '
      't-test (Holm over the table\'s paired tests); McNemar per seed, A → row: '
      'improved (A wrong, row right) / degraded, p (Holm over every McNemar '
      'test of the table). Train s/run: the median training seconds per run '
      '(FitNets: both stages; measured while other work shared the 2 cores at '
      'times). Each student of seed *s* is distilled from the teacher of seed '
      '*s*. Rows whose seeds are incomplete are still running.', '',
      method_table.table(os.path.join(RESULTS, study, 'runs'), rows=rows(study))])
  again = os.path.join(RESULTS, study, 'redrawn', 'runs')
  redone = compare.by_row(again) if os.path.isdir(again) else {}
  if redone and not {'teacher', 'kd'} <= set(redone):
    print(f'method_table: {again} has no teacher and kd runs yet; its section is left out',
          file=sys.stderr)
  elif redone:
    text += '\n' + redrawn_section(study, again, redone)
  path = os.path.join(RESULTS, 'methods', f'{study}.md')
  outputs.write_text(path, text)
  print(f'wrote {path}')


def redrawn_section(study, again, redone):
  """The re-drawn seeds (`redone`: the runs in `again`): their runs against
  the committed ones of the same rows, then the table with those seeds'
  rows distilled from the re-drawn teacher (`method_table.redrawn`)."""
  committed = os.path.join(RESULTS, study, 'runs')
  found = compare.by_row(committed)
  seeds = sorted({s for runs in redone.values() for s in runs})
  machines = sorted({str((r.metrics.get('trained_on') or {}).get('cpu', 'not recorded'))
                     for runs in redone.values() for r in runs.values()})
  return '\n'.join([
      f'## Seed{"s" if len(seeds) > 1 else ""} {", ".join(map(str, seeds))} re-drawn', '',
      f'The committed teacher of seed {", ".join(map(str, seeds))} could not be re-made '
      f'bit for bit on the CPU kind that trained these rows ({"; ".join(machines)}: '
      'its arithmetic rounds differently from the kind that trained the committed '
      'teachers, docs/reproducing.md), so the seed was re-drawn: its teacher '
      're-trained from the same config and seed there, vanilla KD and the rows below '
      f'distilled from it (`experiments/results/{study}/redrawn/runs/`). The re-drawn '
      'runs against the committed ones of the same rows and seed (McNemar committed → '
      're-drawn):', '',
      compare.table(committed, again, labels=('committed teacher', 're-drawn teacher'),
                    order=rows(study)),
      'The method table with the re-drawn seed in place of the committed one for '
      "the rows it has (each row compared with KD from its own seed's teacher; the "
      'baseline student takes no teacher and is the committed one):', '',
      method_table.table(method_table.redrawn(found, redone), rows=rows(study))])


if __name__ == '__main__':
  main(*(sys.argv[1:] or ['cifar10_cnn']))
