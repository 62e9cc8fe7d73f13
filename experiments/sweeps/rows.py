"""Rows of a study's table as ONE program: each point is a row's own config
(configs/STUDY/ROW.py, as experiments/run_study.sh runs it alone), so the
students share data order, augmentation and one teacher forward pass per
batch (kdjax/grid.py), and each writes its own run directory,
<workdir>/<row>. The rows must share everything but their method and its
keys (one line names the first key that differs); methods with stages
(fitnet, ft, ab, fsp) and OFD run alone.

  python -m kdjax.sweep --sweep=experiments/sweeps/rows.py:cifar10_cnn:sp+vid+pkt \
      --workdir=runs/cifar10_cnn_s0/program --set=seed=0 \
      --set=teacher.workdir=runs/cifar10_cnn_s0/teacher \
      --set=dataset.data_dir=../shared/data/cifar10-jpeg
  # experiments/run_study.sh does this for a row argument like sp+vid+pkt.
"""


def get_sweep(arg):
  study, _, rows = arg.partition(':')
  return {'config': f'configs/{study}/student.py',
          'points': [{'name': row, 'config': f'configs/{study}/{row}.py'}
                     for row in rows.split('+')],
          'vmap': True}
