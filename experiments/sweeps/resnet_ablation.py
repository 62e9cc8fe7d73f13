"""The ResNet-34 -> MobileNetV2 study's ablation (seeds/000 Tables 3.1-3.3) as
one program per seed on a GPU: the baseline MobileNetV2 (alpha = 1: exactly
cross-entropy) and KD at T in {1, 2, 4, 8, 16} (alpha = 0.3) and alpha in
{0.1, 0.3, 0.5, 0.7, 0.9} (T = 4), 10 students of 200 epochs that share each
batch's ResNet-34 forward pass. Run after the teacher of that seed:

  for s in 0 1 2; do
    python -m kdjax.sweep --sweep=experiments/sweeps/resnet_ablation.py \\
        --workdir=runs/cifar10_resnet/ablation_s$s --set=seed=$s \\
        --set=teacher.workdir=runs/cifar10_resnet/teacher_s$s \\
        --set=dataset.data_dir=../shared/data/cifar10-jpeg
  done
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnn_ablation  # pylint: disable=g-import-not-at-top,wrong-import-position


def get_sweep():
  """The CNN ablation's 10 settings, on the ResNet study's own configs."""
  return {**cnn_ablation.get_sweep(), 'config': 'configs/cifar10_resnet/kd_t4_a03.py'}
