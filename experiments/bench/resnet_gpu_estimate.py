"""GPU time of the ResNet-34 -> MobileNetV2 study (seeds/000), from XLA's
cost analysis of the programs kdjax compiles for it.

  python experiments/bench/resnet_gpu_estimate.py \
      [--points=10 --peak_tflops=495 --utilisation=0.3] \
      [--out=experiments/results/resnet_gpu_estimate.md]

Per seed, the study's runs are (configs/cifar10_resnet/, and
experiments/sweeps/resnet_ablation.py):
- the teacher: ResNet-34, 100 epochs of 390 steps of 128, plus a test-set
  evaluation after every epoch;
- the ablation grid: 10 MobileNetV2 students (the baseline and the 9
  distinct KD settings) of 200 epochs, each step one program that runs the
  ResNet-34 forward once for all of them (`steps.GridStep`, vmapped as on a
  GPU), plus each student's test evaluation after every epoch.
FLOPs are XLA's count of each compiled program (on this machine's CPU: the
count is of the HLO, the same operations a GPU runs, up to fusion); time =
FLOPs / (peak x utilisation). The default peak is an H100 SXM's dense
TF32 rate (495 TFLOP/s), the precision JAX uses by default for float32
matmuls and convolutions on such a GPU; the utilisation is an assumption, stated
with the result.
"""

import os
import sys

from absl import app
from absl import flags

flags.DEFINE_integer('points', 10, 'Students in the ablation grid.')
flags.DEFINE_float('peak_tflops', 495.0, 'Peak of the GPU in TFLOP/s.')
flags.DEFINE_float('utilisation', 0.3, 'Assumed fraction of the peak achieved.')
flags.DEFINE_string('out', '', 'Write the estimate here (markdown).')
FLAGS = flags.FLAGS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

N_TRAIN, N_TEST, SEEDS = 50_000, 10_000, 3


def _tflop(fn, *args):
  import jax  # pylint: disable=g-import-not-at-top
  cost = jax.jit(fn).lower(*args).compile().cost_analysis()
  return (cost[0] if isinstance(cost, list) else cost)['flops'] / 1e12


def estimate(points):
  """{part: TFLOP} of one seed of the study, and the configs' epochs."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import methods, models, optim, steps
  from kdjax.data import SPECS

  teacher_cfg = train_steps.load_config('configs/cifar10_resnet/teacher.py')
  kd_cfg = train_steps.load_config('configs/cifar10_resnet/kd_t4_a03.py')
  spec, shape, batch = SPECS['cifar10'], (32, 32, 3), kd_cfg.train.batch_size
  steps_per_epoch = N_TRAIN // batch
  images = jnp.zeros((batch, *shape), jnp.uint8)
  labels = jnp.zeros((batch,), jnp.int32)
  rng = jax.random.PRNGKey(0)
  augmentation = steps.Augmentation(kd_cfg.dataset.translate, kd_cfg.dataset.flip,
                                    spec.mean, spec.std)
  teacher = models.create(kd_cfg.teacher.model, 10)
  student = models.create(kd_cfg.model, 10)
  t_vars = models.init(teacher, rng, shape)
  s_vars = models.init(student, rng, shape)
  eval_x = jnp.zeros((kd_cfg.train.eval_batch_size, *shape))
  evals = N_TEST / kd_cfg.train.eval_batch_size
  forward = lambda m: lambda v, x: m.apply(v, x, train=False)

  tx = optim.create(teacher_cfg.optimizer, 1000)
  teacher_step = steps.Step(model=teacher, tx=tx, objective=methods.get('none').objective(
      [teacher_cfg]), augmentation=augmentation)
  state = steps.create_state(t_vars, tx, rng)
  parts = {
      'teacher: train steps': _tflop(teacher_step, state, (images, labels), rng, None, {})
                              * steps_per_epoch * teacher_cfg.train.epochs,
      'teacher: test evaluation': _tflop(forward(teacher), t_vars, eval_x) * evals
                                  * teacher_cfg.train.epochs}
  method = methods.get('kd')
  tx = optim.create(kd_cfg.optimizer, 1000)
  grid_step = steps.GridStep(steps.Step(
      model=student, tx=tx, objective=method.objective([kd_cfg]), teacher=teacher,
      augmentation=augmentation), 'vmap')
  stack = lambda tree: jax.tree.map(lambda x: jnp.stack([x] * points), tree)
  states = stack(steps.create_state(s_vars, tx, rng))
  hparams = stack(method.hparams_of(kd_cfg))
  epochs = kd_cfg.train.epochs
  parts[f'grid of {points} students: train steps'] = _tflop(
      grid_step, states, (images, labels), rng, t_vars, hparams) * steps_per_epoch * epochs
  parts[f'grid of {points} students: test evaluation'] = _tflop(
      forward(student), s_vars, eval_x) * evals * epochs * points
  return parts, teacher_cfg.train.epochs, epochs


def main(argv):
  del argv
  parts, t_epochs, s_epochs = estimate(FLAGS.points)
  rate = FLAGS.peak_tflops * FLAGS.utilisation
  lines = [
      '# GPU time of the ResNet-34 -> MobileNetV2 study, estimated', '',
      'Written by `python experiments/bench/resnet_gpu_estimate.py` from XLA\'s '
      f'cost analysis of kdjax\'s compiled programs: teacher {t_epochs} epochs, '
      f'one grid program of {FLAGS.points} MobileNetV2 students of {s_epochs} epochs '
      'sharing the ResNet-34 forward, per seed; 390 steps of 128 per epoch and a '
      f'test evaluation every epoch. Time at {FLAGS.utilisation:.0%} of '
      f'{FLAGS.peak_tflops:g} TFLOP/s (an H100 SXM\'s dense TF32 peak by default; the '
      'utilisation is an assumption, not a measurement).', '',
      '| part (one seed) | TFLOP | hours |', '|---|---:|---:|']
  for name, tflop in parts.items():
    lines.append(f'| {name} | {tflop:,.0f} | {tflop / rate / 3600:.2f} |')
  total = sum(parts.values())
  lines += [f'| **one seed** | {total:,.0f} | {total / rate / 3600:.2f} |',
            f'| **{SEEDS} seeds** | {SEEDS * total:,.0f} | '
            f'{SEEDS * total / rate / 3600:.2f} |', '']
  text = '\n'.join(lines)
  print(text)
  if FLAGS.out:
    from kdjax import outputs  # pylint: disable=g-import-not-at-top
    outputs.write_text(FLAGS.out, text)


if __name__ == '__main__':
  app.run(main)
