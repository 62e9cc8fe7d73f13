"""Throughput of the compiled MNIST train steps (samples/s), on this machine.

  python experiments/bench/train_steps.py [--batch_size=256] [--steps=50] [--repeats=5]

Times whole compiled epochs (`steps.train_epoch`: a `lax.scan` over `--steps`
updates on on-device uint8 data, with augmentation) for the teacher trained
on hard labels and for the KD student (800-800 MLP + the 1200-1200 teacher's
forward pass). Compilation is timed separately; throughput is the median of
`--repeats` timed epochs after one warm-up epoch.
"""

import functools
import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from kdjax import config as config_lib
from kdjax import models
from kdjax import optim
from kdjax import steps

flags.DEFINE_integer('batch_size', 256, 'Global batch size.')
flags.DEFINE_integer('steps', 50, 'Updates per timed epoch.')
flags.DEFINE_integer('repeats', 5, 'Timed epochs (the median is reported).')
FLAGS = flags.FLAGS

SHAPE = (28, 28, 1)


def bench(name, student_cfg, teacher_cfg, method):
  opt = config_lib.get_base_config().optimizer
  tx = optim.create(opt, FLAGS.steps)
  model = models.create(student_cfg, 10)
  state = steps.create_state(models.init(model, steps.init_rng(0), SHAPE), tx, steps.stage_rng(0))
  teacher = teacher_vars = None
  if method == 'kd':
    teacher = models.create(teacher_cfg, 10)
    teacher_vars = models.init(teacher, jax.random.PRNGKey(1), SHAPE)
  n = FLAGS.steps * FLAGS.batch_size
  images = jax.random.randint(jax.random.PRNGKey(2), (n, *SHAPE), 0, 256).astype(jnp.uint8)
  labels = jax.random.randint(jax.random.PRNGKey(3), (n,), 0, 10)
  hparams = {'temperature': jnp.float32(20.0), 'alpha': jnp.float32(0.1)}
  step_fn = functools.partial(steps.train_step, model=model, tx=tx, teacher=teacher,
                              objective=steps.Objective(method), translate=2, mean=(0.1307,), std=(0.3081,))
  epoch = jax.jit(functools.partial(steps.train_epoch, steps=FLAGS.steps,
                                    batch_size=FLAGS.batch_size, step_fn=step_fn),
                  donate_argnums=0)
  start = time.perf_counter()
  compiled = epoch.lower(state, images, labels, teacher_vars, hparams).compile()
  compile_s = time.perf_counter() - start
  state, _ = compiled(state, images, labels, teacher_vars, hparams)  # warm-up
  jax.block_until_ready(state)
  rates = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    state, sums = compiled(state, images, labels, teacher_vars, hparams)
    jax.block_until_ready((state, sums))
    rates.append(n / (time.perf_counter() - start))
  print(f'| {name} | {FLAGS.batch_size} | {statistics.median(rates):,.0f} | '
        f'{min(rates):,.0f}-{max(rates):,.0f} | {compile_s:.2f} |', flush=True)


def main(argv):
  del argv
  print(f'device: {jax.devices()[0].device_kind} x{jax.device_count()}, '
        f'jax {jax.__version__}; {FLAGS.repeats} timed epochs of {FLAGS.steps} steps')
  print('| step | batch | samples/s (median) | range | compile (s) |')
  print('|---|---:|---:|---:|---:|')
  teacher = config_lib.mlp((1200, 1200), dropout=0.2)
  bench('MNIST teacher (1200-1200, CE)', teacher, None, 'none')
  bench('MNIST KD student (800-800 + teacher forward)', config_lib.mlp((800, 800)),
        teacher, 'kd')


if __name__ == '__main__':
  app.run(main)
