"""Test-set evaluation of a finished grid with and without kdjax's XLA options.

  python experiments/bench/eval_options.py $RUNS_DIR/students

Restores each student of a sweep workdir (`python -m kdjax.sweep`, e.g. the
one `experiments/run_cnn_ablation.sh` writes) from its final checkpoint, then
times the grid's vmapped eval (`loop.predictor(..., grid=True)`) compiled
with `xla_options.for_training` and with XLA's defaults (KDJAX_XLA_OPTIONS=0),
each on its second call (compilation excluded), and checks that both give
the same logits bit for bit, and the predictions each student saved.
"""

import glob
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from kdjax import checkpoint
from kdjax import data as data_lib
from kdjax import loop
from kdjax import models
from kdjax import outputs
from kdjax import train


def timed(fn, *args):
  """(result, seconds of the second call)."""
  fn(*args)
  start = time.perf_counter()
  out = np.asarray(fn(*args))
  return out, time.perf_counter() - start


def main(argv):
  workdirs = sorted(d for d in glob.glob(os.path.join(argv[1], '*'))
                    if os.path.exists(os.path.join(d, 'predictions', 'test.npz')))
  if not workdirs:
    sys.exit(f'kdjax: error: no finished students in {argv[1]!r}; expected a sweep workdir')
  config = ml_collections.ConfigDict(
      json.load(open(os.path.join(workdirs[0], 'config.json'))))
  data = data_lib.load(config.dataset)
  model = models.create(config.model, data_lib.num_classes(config.dataset),
                        dtype=config.train.compute_dtype)
  shapes = train.variable_shapes(model, data.image_shape)
  students = [checkpoint.load_variables(w, shapes, what='run')[0] for w in workdirs]
  stacked = jax.tree.map(lambda *a: jnp.stack(a)[None], *students)
  images = jnp.asarray(data.test.images)

  predictor = lambda: loop.predictor(loop.plan(config), data, model, grid=True)
  with_options, t_with = timed(predictor(), stacked, images)
  os.environ['KDJAX_XLA_OPTIONS'] = '0'  # XLA's defaults (`xla_options`), read by loop.plan
  without, t_without = timed(predictor(), stacked, images)
  saved = [outputs.read_predictions(os.path.join(w, 'predictions', 'test.npz'))['predictions']
           for w in workdirs]
  print(f'{len(workdirs)} students x {len(images)} test images on {jax.devices()[0].device_kind}: '
        f'{t_without:.1f} s with XLA defaults, {t_with:.1f} s with kdjax\'s options '
        f'({t_without / t_with:.2f}x); logits bit-identical: '
        f'{np.array_equal(with_options, without)}; predictions as saved: '
        f'{all(np.array_equal(with_options[0, i].argmax(-1), p) for i, p in enumerate(saved))}')


if __name__ == '__main__':
  main(sys.argv)
