"""What PyTorch's initialisation changed in a study's rows (issue 25).

  python experiments/init_effect.py mnist [cifar10_cnn]
  # -> experiments/results/<study>/init_effect.md

Each study's runs made with Flax's initialisation (before `model.param_init`
existed) were kept in experiments/results/<study>/flax_init/runs/; the same
rows and seeds re-run with the configs' default since, PyTorch's, are in
experiments/results/<study>/runs/. Row by row: accuracy before and after,
the paired t-test over seeds, McNemar per seed (kdjax.analysis.compare).
"""

import os
import sys

from kdjax import outputs
from kdjax.analysis import compare

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
ORDER = ('teacher', 'student', 'kd', 'fitnet', 'rkd', 'dkd', 'at', 'student_bn',
         'kd_bn', 'fitnet_bn', 'rkd_bn')


def main(studies):
  for study in studies:
    root = os.path.join(RESULTS, study)
    text = '\n'.join([
        f'# {study}: Flax initialisation → PyTorch initialisation', '',
        f'Made by `python experiments/init_effect.py {study}`. Before: '
        f'`flax_init/runs/` (Flax\'s LeCun-normal kernels, zero biases); after: '
        '`runs/` (`model.param_init=\'torch\'`, the weights the PyTorch reference '
        'model draws). Same code otherwise, same seeds, data and teachers of '
        'the same initialisation as their students. Final-epoch test '
        'accuracy, mean ± std over seeds; Δ = after − before with the paired '
        't-test over seeds; McNemar per seed, Holm over the whole table.', '',
        compare.table(os.path.join(root, 'flax_init', 'runs'), os.path.join(root, 'runs'),
                      labels=('Flax init', 'PyTorch init'), order=ORDER)])
    outputs.write_text(os.path.join(root, 'init_effect.md'), text)
    print(f'wrote {root}/init_effect.md')


if __name__ == '__main__':
  main(sys.argv[1:] or ['mnist'])
