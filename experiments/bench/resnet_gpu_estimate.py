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
  ResNet-34 forward once for all of them (`steps.GridStep`), plus each
  student's test evaluation after every epoch; counted as the teacher
  forward plus 10 student updates (each reading the teacher's logits).
FLOPs are XLA's count of each compiled program (on this machine's CPU: the
count is of the HLO, the same operations a GPU runs, up to fusion). Two
conversions to time:
- at the rates the study's own V100 times imply for these FLOPs (seeds/000:
  teacher ~2 h for 100 epochs, one KD student ~3 h for 200 epochs, whose
  steps each ran the teacher forward): teacher FLOPs / 7,200 s and (teacher
  forward + one student) FLOPs / 10,800 s;
- at `--utilisation` of `--peak_tflops` (default: 10 % of an H100 SXM's
  dense TF32 495 TFLOP/s, the precision JAX uses by default for float32
  matmuls and convolutions there), an assumption stated with the result.
"""

import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

# --out (where to write the estimate) is train_steps' flag.
flags.DEFINE_integer('points', 10, 'Students in the ablation grid.')
flags.DEFINE_float('peak_tflops', 495.0, 'Peak of the GPU in TFLOP/s.')
flags.DEFINE_float('utilisation', 0.1, 'Assumed fraction of the peak achieved.')
FLAGS = flags.FLAGS

N_TRAIN, N_TEST, SEEDS = 50_000, 10_000, 3
STUDY_TEACHER_S, STUDY_STUDENT_S = 2 * 3600, 3 * 3600  # seeds/000: V100 times


_tflop = train_steps.tflop


def estimate(points):
  """{part: TFLOP} of one seed of the study, and the configs' epochs."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import methods, models, optim, steps, teacher_cache
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
  # The grid's step is one teacher forward plus each student's update, so it
  # is counted as those programs apart: XLA's count of the vmapped program
  # is not the same arithmetic (a vmapped convolution becomes a grouped one;
  # counted whole, the 10-student grid step was 6.7x the sum of its parts,
  # 640,233 vs 96,015 TFLOP per seed, one measurement on this CPU).
  method = methods.get('kd')
  tx = optim.create(kd_cfg.optimizer, 1000)
  student_step = steps.Step(model=student, tx=tx, objective=method.objective([kd_cfg]),
                            teacher=teacher_cache.CachedTeacher(('logits',)),
                            augmentation=augmentation)
  table = {'logits': jnp.zeros((N_TRAIN, 162, 10))}
  indexed = (images, labels, jnp.arange(batch))
  epochs = kd_cfg.train.epochs
  parts['grid: teacher forward, once per step'] = _tflop(
      forward(teacher), t_vars, jnp.zeros((batch, *shape))) * steps_per_epoch * epochs
  parts[f'grid: {points} student updates per step'] = _tflop(
      student_step, steps.create_state(s_vars, tx, rng), indexed, rng, table,
      method.hparams_of(kd_cfg)) * steps_per_epoch * epochs * points
  parts[f'grid: test evaluation of {points} students'] = _tflop(
      forward(student), s_vars, eval_x) * evals * epochs * points
  study_rates = {'teacher': (parts['teacher: train steps']
                             + parts['teacher: test evaluation']) / STUDY_TEACHER_S,
                 'student': _one_student(parts, points) / STUDY_STUDENT_S}
  # XLA's count of an update relative to a forward, per image.
  per_image = lambda train, test: (parts[train] / (steps_per_epoch * batch)) / (
      parts[test] / N_TEST)  # epochs and students cancel
  update_ratio = {
      'ResNet-34': per_image('teacher: train steps', 'teacher: test evaluation'),
      'MobileNetV2': per_image(f'grid: {points} student updates per step',
                               f'grid: test evaluation of {points} students')}
  return parts, study_rates, update_ratio, teacher_cfg.train.epochs, epochs


def _one_student(parts, points):
  """TFLOP of one student trained alone: its updates, its evaluations and a
  teacher forward every step."""
  return parts['grid: teacher forward, once per step'] + (
      parts[f'grid: {points} student updates per step']
      + parts[f'grid: test evaluation of {points} students']) / points


def main(argv):
  del argv
  parts, study, update_ratio, t_epochs, s_epochs = estimate(FLAGS.points)
  rate = FLAGS.peak_tflops * FLAGS.utilisation
  v100 = lambda name, tflop: tflop / study['teacher' if name.startswith('teacher') else
                                           'student'] / 3600
  lines = [
      '# GPU time of the ResNet-34 -> MobileNetV2 study, estimated', '',
      'Written by `python experiments/bench/resnet_gpu_estimate.py` from XLA\'s '
      f'count of the FLOPs of kdjax\'s compiled programs, per seed: the teacher, '
      f'{t_epochs} epochs; one grid program of {FLAGS.points} MobileNetV2 students '
      f'(the baseline and the 9 distinct KD settings), {s_epochs} epochs, that runs '
      'the ResNet-34 forward once per step for all of them; 390 steps of 128 per '
      'epoch and a test evaluation every epoch.', '',
      f'V100-hours: at the rates the study\'s own V100 times imply for these FLOPs '
      f'(teacher 100 epochs ~2 h: {study["teacher"]:.2f} TFLOP/s; one KD student '
      f'200 epochs ~3 h: {study["student"]:.2f} TFLOP/s). H100-hours: at '
      f'{FLAGS.utilisation:.0%} of {FLAGS.peak_tflops:g} TFLOP/s (dense TF32), '
      'an assumed utilisation, not a measurement.', '',
      '| part (one seed) | TFLOP | V100-hours (study\'s rates) | H100-hours (assumed) |',
      '|---|---:|---:|---:|']
  for name, tflop in parts.items():
    lines.append(f'| {name} | {tflop:,.0f} | {v100(name, tflop):.2f} | '
                 f'{tflop / rate / 3600:.2f} |')
  total = sum(parts.values())
  total_v100 = sum(v100(n, t) for n, t in parts.items())
  separate = (parts['teacher: train steps'] + parts['teacher: test evaluation']) / study[
      'teacher'] / 3600 + _one_student(parts, FLAGS.points) / study[
          'student'] / 3600 * FLAGS.points
  lines += [f'| **one seed** | {total:,.0f} | {total_v100:.1f} | {total / rate / 3600:.2f} |',
            f'| **{SEEDS} seeds** | {SEEDS * total:,.0f} | {SEEDS * total_v100:.1f} | '
            f'{SEEDS * total / rate / 3600:.2f} |', '',
            f'The same {FLAGS.points} students as separate runs, each running the teacher '
            f'forward itself, would take {separate:.1f} V100-hours per seed at the same '
            f'rates ({SEEDS * separate:.0f} for {SEEDS} seeds): the grid saves the '
            f'{FLAGS.points - 1} redundant teacher forwards per step. Caveat: XLA counts '
            f'a training update at {update_ratio["ResNet-34"]:.1f}x the forward for '
            f'ResNet-34 (the usual ~3x) but {update_ratio["MobileNetV2"]:.1f}x for '
            'MobileNetV2 (not traced to an operation; the gradients of its depthwise '
            'convolutions, which XLA writes as grouped convolutions, are the likely '
            'cause), so the student FLOPs and the H100 column are upper bounds; the '
            'V100 column divides the same count by a rate calibrated with it.', '']
  train_steps.emit(lines)


if __name__ == '__main__':
  app.run(main)
