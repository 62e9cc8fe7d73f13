"""What PyTorch's initialisation changed in a study's rows (issue 25).

  python experiments/init_effect.py STUDY [BEFORE AFTER]
  # -> experiments/results/<study>/init_effect.md

Once a study is re-run with the configs' default since, PyTorch's
initialisation, its runs made with Flax's (before `model.param_init`
existed) are kept in experiments/results/<study>/flax_init/runs/ and the
re-run is in experiments/results/<study>/runs/ (BEFORE, AFTER default to
these). While a re-run is under way it can be collected elsewhere, e.g.
torch_init/runs/ beside the Flax runs still in runs/: `init_effect.py
cifar10_cnn runs torch_init/runs`. Row by row, for the rows and seeds both have: accuracy
before and after, the paired t-test over seeds, McNemar per seed
(kdjax.analysis.compare).
"""

import os
import sys

from kdjax import outputs
from kdjax.analysis import compare

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
ORDER = ('teacher', 'student', 'kd', 'fitnet', 'rkd', 'dkd', 'at', 'student_bn',
         'kd_bn', 'fitnet_bn', 'rkd_bn')


def main(study, before='flax_init/runs', after='runs'):
  root = os.path.join(RESULTS, study)
  args = '' if (before, after) == ('flax_init/runs', 'runs') else f' {before} {after}'
  text = '\n'.join([
      f'# {study}: Flax initialisation → PyTorch initialisation', '',
      f'Made by `python experiments/init_effect.py {study}{args}`. Before: '
      f'`{before}/` (Flax\'s LeCun-normal kernels, zero biases); after: '
      f'`{after}/` (`model.param_init=\'torch\'`, the weights the PyTorch '
      'reference model draws). Same code otherwise, same seeds and data; each '
      'student distilled from the teacher of its own initialisation and seed. '
      'Final-epoch test accuracy, mean ± std over the seeds both have; Δ = after '
      '− before with the paired t-test over seeds; McNemar per seed, Holm over '
      'the whole table.', '',
      compare.table(os.path.join(root, before), os.path.join(root, after),
                    labels=('Flax init', 'PyTorch init'), order=ORDER,
                    compared=('param_init',))])
  outputs.write_text(os.path.join(root, 'init_effect.md'), text)
  print(f'wrote {root}/init_effect.md')


if __name__ == '__main__':
  main(*(sys.argv[1:] or ['mnist']))
