"""The CIFAR CNN train steps under each XLA:CPU option set that might help them.

  python experiments/bench/xla_option_sets.py [--repeats=3]

Candidates: XLA's defaults, XNNPACK's YNN kernels for dots and reductions
(what kdjax uses, `kdjax/xla_options.py`), and the oneDNN paths the
installed jaxlib carries (`xla_cpu_use_onednn`, its custom calls, and its
fusion types for single convolutions and for dots), alone and with YNN.
Samples/s, median of --repeats epochs of --cnn_steps steps after a warm-up.
"""

import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
_ONEDNN_FUSION = 'xla_cpu_experimental_onednn_fusion_type'


def option_sets():
  from kdjax import xla_options  # pylint: disable=g-import-not-at-top
  return {
      'XLA defaults': {},
      'YNN dot+reduce (kdjax)': dict(xla_options.YNN),
      'oneDNN (xla_cpu_use_onednn)': {'xla_cpu_use_onednn': True},
      'oneDNN + YNN': {'xla_cpu_use_onednn': True, **xla_options.YNN},
      'oneDNN custom calls': {'xla_cpu_use_onednn': True,
                              'xla_cpu_experimental_onednn_custom_call': True},
      'oneDNN fusion: single convolutions': {
          _ONEDNN_FUSION: 'LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION'},
      'oneDNN fusion: dots': {_ONEDNN_FUSION: 'LIBRARY_FUSION_TYPE_DOT'},
  }


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  cases = (('teacher step', 'configs/cifar10_cnn/teacher.py'),
           ('student CE step', 'configs/cifar10_cnn/student.py'))
  lines = [f'device: {jax.devices()[0].device_kind}, jax {jax.__version__}', '',
           '| XLA options | ' + ' | '.join(f'CIFAR CNN {n} (samples/s)' for n, _ in cases)
           + ' |', '|---|' + '---:|' * len(cases)]
  for name, options in option_sets().items():
    rates = []
    for _, path in cases:
      config = train_steps.load_config(path)
      rate = train_steps.kdjax_case(config, FLAGS.cnn_steps, options)['samples_per_s']
      rates.append(f'{rate:,.0f}')
    lines.append(f'| {name} | ' + ' | '.join(rates) + ' |')
    print(lines[-1], flush=True)
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
