"""The compute floor of one seed of the comparison study's Table 2 on this machine.

  python experiments/bench/table2_floor.py [--runs=experiments/results/cifar10_cnn/runs --seed=0]

Floor = the seed's total FLOPs / this machine's f32 matmul rate (XLA, 2048^2).
FLOPs come from XLA's cost analysis of each compiled program, counted as
many times as the run executes it: the train step (teacher outputs from the
cache where `teacher_cache.plan` uses it), the cache's teacher forwards, and
the per-epoch test evaluation; FitNets adds its hint stage (student trunk,
regressor and the teacher up to the hint layer). With --runs, the measured
seconds of each row (train + compile + cache, from metrics.json, and the
wall time of wall_seconds.txt) are set against the floor.
"""

import functools
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string('runs', '', 'Folder of collected runs (<row>_s<seed>/) to compare.')
flags.DEFINE_integer('seed', 0, 'Seed of the runs to compare.')
FLAGS = flags.FLAGS
ROWS = ('teacher', 'student', 'kd', 'rkd', 'fitnet')
N_TRAIN, N_TEST = 50_000, 10_000


def _gflop(fn, *args):
  import jax  # pylint: disable=g-import-not-at-top
  cost = jax.jit(fn).lower(*args).compile().cost_analysis()
  return (cost[0] if isinstance(cost, list) else cost)['flops'] / 1e9


def row_gflop(row):
  """{part: GFLOP} of one row's whole run."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import data as data_lib, methods, models, optim, steps, teacher_cache, train
  from kdjax.data import augment

  config = train_steps.load_config(f'configs/cifar10_cnn/{row}.py')
  batch, epochs = config.train.batch_size, config.train.epochs
  steps_per_epoch = N_TRAIN // batch
  spec = data_lib.SPECS['cifar10']
  shape = (32, 32, 3)
  model = models.create(config.model, 10)
  student_vars = models.init(model, jax.random.PRNGKey(0), shape)
  parts = {}
  objective = methods.get(config.method).objective([config])
  variants = augment.num_variants(translate=config.dataset.translate,
                                  flip=config.dataset.flip)
  cached = objective.name != 'none' and teacher_cache.plan(
      enabled=True, objective_name=objective.name, outputs=objective.teacher_outputs,
      num_examples=N_TRAIN, epochs=epochs,
      steps_per_epoch=steps_per_epoch, batch_size=batch, dims={'logits': 10,
                                                               'embedding': 1024},
      translate=config.dataset.translate, flip=config.dataset.flip).use
  if config.method == 'fitnet':  # FLOPs of the KD stage's step: the cached KD step
    config.method = 'kd'
  args, step_fn = train_steps.kdjax_setup(config, 1, cache=cached)
  state, images, labels, teacher_vars, hparams = args
  one = functools.partial(steps.indexed_step, step_fn=step_fn)
  idx = jnp.zeros((batch,), jnp.int32)
  parts['train steps'] = _gflop(one, state, images, labels, idx, teacher_vars,
                                hparams) * steps_per_epoch * epochs
  forward = lambda m: lambda v, x: m.apply(v, x, train=False)
  x = jnp.zeros((1000, *shape))
  parts['test evaluation'] = _gflop(forward(model), student_vars, x) * (
      N_TEST // 1000) * epochs
  if cached:
    teacher = models.create(config.teacher.model, 10)
    tv = models.init(teacher, jax.random.PRNGKey(1), shape)
    parts['teacher cache'] = _gflop(forward(teacher), tv, jnp.zeros(
        (batch, *shape))) * variants * N_TRAIN / batch
  if row == 'fitnet':  # stage 1: trunk + regressor onto the teacher's hint layer
    fit = config.fitnet
    teacher = models.create(config.teacher.model, 10)
    tv = models.init(teacher, jax.random.PRNGKey(1), shape)
    stage = methods.fitnet.HINT_STAGE
    shapes = (models.feature_shapes(model, shape), models.feature_shapes(teacher, shape))
    wrapped, wv = train.with_parts(stage.head, config, model, models.init(
        model, jax.random.PRNGKey(2), shape), shapes, jax.random.PRNGKey(2))
    tx = optim.create(fit.stage1_optimizer, 1000)
    st = steps.create_state(wv, tx, steps.stage_rng(0, 1))
    step1 = steps.Step(
        model=wrapped, tx=tx, teacher=teacher,
        objective=methods.fitnet.hint_objective(config),
        augmentation=steps.Augmentation(config.dataset.translate, config.dataset.flip,
                                        spec.mean, spec.std))
    one1 = functools.partial(steps.indexed_step, step_fn=step1)
    parts['hint stage steps'] = _gflop(one1, st, images, labels, idx, tv, hparams) * (
        steps_per_epoch * fit.stage1_epochs)
    parts['test evaluation'] *= (epochs + fit.stage1_epochs) / epochs
  return parts


def main(argv):
  del argv
  from kdjax import outputs  # pylint: disable=g-import-not-at-top
  from kdjax.analysis import runs as runs_lib  # pylint: disable=g-import-not-at-top
  rate = train_steps.matmul_gflops('float32')
  print(f'f32 matmul (XLA, 2048^2): {rate:.0f} GFLOP/s\n')
  lines = ['| row | GFLOP (parts) | total TFLOP | floor (s) | measured train + '
           'compile + cache (s) | wall (s) | wall / floor |', '|---|---|---:|---:|---:|---:|---:|']
  total_floor = total_wall = 0.0
  for row in ROWS:
    parts = row_gflop(row)
    tflop = sum(parts.values()) / 1e3
    floor = tflop * 1e3 / rate
    measured = wall = float('nan')
    run = os.path.join(FLAGS.runs, f'{row}_s{FLAGS.seed}') if FLAGS.runs else ''
    if run and os.path.exists(os.path.join(run, 'metrics.json')):
      m = outputs.read_json(os.path.join(run, 'metrics.json'))
      measured = sum(m.get(k, 0.0) for k in (
          'train_seconds', 'compile_seconds', 'teacher_cache_seconds',
          'stage1_train_seconds'))
      wall, resumed = runs_lib.read_wall(run)
      if resumed:  # its earlier segments' wall is not recorded
        raise SystemExit(f'{run} resumed from a checkpoint: no whole-run wall time')
      total_wall += wall
    total_floor += floor
    lines.append(f'| {row} | ' + ', '.join(f'{k} {v:,.0f}' for k, v in parts.items())
                 + f' | {tflop:.1f} | {floor:.0f} | {measured:.0f} | {wall:.0f} | '
                 f'{wall / floor:.2f}x |')
  lines.append(f'| seed total | | | {total_floor:.0f} | | {total_wall:.0f} | '
               f'{total_wall / total_floor:.2f}x |')
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
