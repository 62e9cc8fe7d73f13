"""GPU time of the CIFAR-100 benchmark's pairs (configs/cifar100/), from XLA's
cost analysis of the programs kdjax compiles for them.

  python experiments/bench/cifar100_gpu_estimate.py \
      [--peak_tflops=495 --utilisation=0.1] \
      [--out=experiments/results/cifar100_gpu_estimate.md]

Per pair (kdjax.models.benchmark.PAIRS) and seed: one KD student of the
benchmark's recipe (240 epochs of 781 steps of 64 = 50,000 // 64), each step
the teacher's forward (in eval mode) and the student's update, plus a
test-set evaluation of the student after every epoch; the teacher itself is
imported (the benchmark publishes its teachers), else add its row
("teacher trained here"). FLOPs are XLA's count of each compiled program
(on this machine's CPU: the count of the HLO, the same operations a GPU
runs, up to fusion); time = FLOPs / (utilisation x peak), an assumption
(default 10 % of an H100 SXM's dense TF32 495 TFLOP/s), not a measurement.
"""

import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

# --out (where to write the estimate) is train_steps' flag.
flags.DEFINE_float('peak_tflops', 495.0, 'Peak of the GPU in TFLOP/s.')
flags.DEFINE_float('utilisation', 0.1, 'Assumed fraction of the peak achieved.')
FLAGS = flags.FLAGS

N_TRAIN, N_TEST = 50_000, 10_000


_tflop = train_steps.tflop


def estimate():
  """[(pair, {part: TFLOP})] per seed, for every pair of the benchmark."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import config as config_lib
  from kdjax import methods, models, optim, steps
  from kdjax.data import SPECS
  from kdjax.models import benchmark

  rows = []
  for teacher_name, student_name in benchmark.PAIRS:
    config = config_lib.cifar100_benchmark(teacher_name, student_name)
    spec, shape, batch = SPECS['cifar100'], (32, 32, 3), config.train.batch_size
    steps_per_epoch, epochs = N_TRAIN // batch, config.train.epochs
    rng = jax.random.PRNGKey(0)
    augmentation = steps.Augmentation(config.dataset.translate, config.dataset.flip,
                                      spec.mean, spec.std)
    teacher = models.create(config.teacher.model, 100)
    student = models.create(config.model, 100)
    t_vars, s_vars = models.init(teacher, rng, shape), models.init(student, rng, shape)
    forward = lambda m: lambda v, x: m.apply(v, x, train=False)
    tx = optim.create(config.optimizer, 1000, 1)
    update = steps.Step(model=student, tx=tx, objective=methods.get('none').objective(
        [config]), augmentation=augmentation)
    images = jnp.zeros((batch, *shape), jnp.uint8)
    labels = jnp.zeros((batch,), jnp.int32)
    eval_x = jnp.zeros((config.train.eval_batch_size, *shape))
    evals = N_TEST / config.train.eval_batch_size
    train_update = steps.Step(model=teacher, tx=tx, objective=methods.get('none').objective(
        [config]), augmentation=augmentation)
    rows.append((f'{teacher_name} -> {student_name}', {
        'teacher forward, every step': _tflop(forward(teacher), t_vars, jnp.zeros(
            (batch, *shape))) * steps_per_epoch * epochs,
        'student updates': _tflop(update, steps.create_state(s_vars, tx, rng),
                                  (images, labels), rng, None, {}) * steps_per_epoch * epochs,
        'student test evaluation': _tflop(forward(student), s_vars, eval_x) * evals * epochs,
        'teacher trained here': _tflop(train_update, steps.create_state(t_vars, tx, rng),
                                       (images, labels), rng, None, {})
                                * steps_per_epoch * epochs,
    }))
  return rows


def main(argv):
  del argv
  rate = FLAGS.peak_tflops * FLAGS.utilisation
  hours = lambda tflop: tflop / rate / 3600
  lines = ['# GPU time of the CIFAR-100 benchmark pairs, estimated', '',
           'Written by `python experiments/bench/cifar100_gpu_estimate.py` from XLA\'s '
           'count of the FLOPs of kdjax\'s compiled programs: per pair and seed, one KD '
           'student of the benchmark\'s recipe (240 epochs of 781 steps of 64), each step '
           'the teacher\'s forward and the student\'s update, and a test evaluation every '
           'epoch; the teacher imported (`python -m kdjax.convert`). Hours at '
           f'{FLAGS.utilisation:.0%} of {FLAGS.peak_tflops:g} TFLOP/s (an H100\'s dense '
           'TF32), an assumed utilisation, not a measurement. The last column is the '
           'teacher trained here with the same recipe, where its checkpoint is not used.',
           '', '| pair | teacher forward TFLOP | student updates TFLOP | student eval TFLOP '
           '| one student, GPU-hours | teacher trained here, GPU-hours |',
           '|---|---:|---:|---:|---:|---:|']
  for pair, parts in estimate():
    student = (parts['teacher forward, every step'] + parts['student updates']
               + parts['student test evaluation'])
    lines.append(f'| {pair} | {parts["teacher forward, every step"]:,.0f} | '
                 f'{parts["student updates"]:,.0f} | {parts["student test evaluation"]:,.0f} '
                 f'| {hours(student):.2f} | {hours(parts["teacher trained here"]):.2f} |')
  from kdjax import methods  # pylint: disable=g-import-not-at-top
  rows = len(methods.names())  # the baseline ('none') and every distillation method
  lines += ['', f'A method table (the baseline student and the {rows - 1} distillation methods '
            f'of docs/methods.md) over 3 seeds is {3 * rows} such students per pair. Read the hours as '
            'a floor: these models at batch 64 do a few GFLOP a step, where kernel launches '
            'and input handling, not arithmetic, bound a GPU, and they seldom reach 10 % of '
            'an H100\'s peak (at 1 % the hours are ten times as long). XLA\'s count of an '
            'update can also exceed the usual 3x of a forward (15.1x for MobileNetV2\'s '
            'grouped convolutions, resnet_gpu_estimate.md).', '']
  train_steps.emit(lines)


if __name__ == '__main__':
  app.run(main)
