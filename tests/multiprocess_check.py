"""Run as `multiprocess_check.py MODE WORKDIR OUT [PROCESS_ID PORT]` (tests/
test_multiprocess.py does). MODE 'process': one of 2 processes with 1 CPU
device each, joined on loopback through KDJAX_COORDINATOR; 'single': one
process with 2 CPU devices. Both train the same BatchNorm student through
the real trainer, data-parallel over 2 devices, and write the metrics this
process got (with its own replica's parameter fingerprint) to OUT."""

import json
import os
import sys


def main():
  mode, workdir, out = sys.argv[1:4]
  import jax  # pylint: disable=g-import-not-at-top
  if mode == 'process':
    process_id, port = sys.argv[4:6]
    os.environ.update(KDJAX_COORDINATOR=f'127.0.0.1:{port}', KDJAX_NUM_PROCESSES='2',
                      KDJAX_PROCESS_ID=process_id)
  else:
    jax.config.update('jax_num_cpu_devices', 2)
  from kdjax import config as config_lib  # pylint: disable=g-import-not-at-top
  from kdjax import demo
  from kdjax import train

  config = demo.get_config('student')
  config.model = config_lib.mlp((16, 16), bn_residual=True, dropout=0.1)
  config.train.update(epochs=2, batch_size=64, devices=0,
                      distributed='yes' if mode == 'process' else 'no')
  config.dataset.update(train_subset=512, test_subset=120)
  config.latency.update(warmup=1, repeats=2)
  metrics = train.train_and_evaluate(config, workdir)
  assert jax.device_count() == 2 and jax.process_count() == (2 if mode == 'process' else 1)
  with open(out, 'w') as f:
    json.dump({'process_index': jax.process_index(), **metrics}, f)


if __name__ == '__main__':
  main()
