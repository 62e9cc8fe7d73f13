"""Runs a sweep file's points locally, one by one or as one vmapped program,
or prints them as an sbatch job array.

  python -m kdjax.sweep --sweep=experiments/sweeps/temperature.py \\
      --workdir=runs/sweeps/temperature --set=teacher.workdir=runs/cifar10_resnet/teacher
  python -m kdjax.sweep ... --mode=slurm --slurm_gpus=1 > sweep.sbatch

The flags live here, not in `kdjax.sweep`, so that a sweep file may import
`kdjax.sweep` (for `one_at_a_time`) while this program runs as `__main__`.
"""

import sys

from absl import flags

from kdjax import cli
from kdjax import config as config_lib
from kdjax import errors
from kdjax import sweep as sweep_lib

flags.DEFINE_string('sweep', None, 'Sweep file (experiments/sweeps/*.py).')
flags.DEFINE_string('workdir', None, 'Parent directory of the sweep\'s runs.')
flags.DEFINE_enum('mode', 'local', ['local', 'slurm', 'task', 'list'],
                  'local: run all points in turn; slurm: print an sbatch job '
                  'array; task: run point --task; list: print the points.')
flags.DEFINE_integer('task', None, 'Point index for --mode=task.')
flags.DEFINE_multi_string('set', [], 'KEY=VALUE applied to every point.')
flags.DEFINE_string('slurm_partition', '', 'SLURM partition.')
flags.DEFINE_integer('slurm_gpus', 1, 'GPUs per task.')
flags.DEFINE_integer('slurm_cpus', 8, 'CPUs per task.')
flags.DEFINE_string('slurm_mem', '32G', 'Memory per task.')
flags.DEFINE_string('slurm_time', '24:00:00', 'Time limit per task.')
flags.DEFINE_integer('slurm_parallel', 0, 'At most this many tasks at once (0: no cap).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  if not (FLAGS.sweep and FLAGS.workdir):
    raise errors.ConfigError('--sweep and --workdir are required')
  sweep = sweep_lib.get_sweep_file(FLAGS.sweep)
  sweep['set'] = {**sweep.get('set', {}), **sweep_lib.parse_set(FLAGS.set)}
  grid = sweep_lib.points(sweep)
  for _, overrides in grid:  # refuse a bad key or value before any run starts
    config = sweep_lib.point_config(sweep, overrides)
    if FLAGS.mode != 'list':  # (a list needs no teacher.workdir)
      config_lib.validate(config)
  if FLAGS.mode == 'list':
    print('\n'.join(f'{i}\t{name}' for i, (name, _) in enumerate(grid)))
  elif FLAGS.mode == 'slurm':
    sys.stdout.write(sweep_lib.slurm_script(
        FLAGS.sweep, FLAGS.workdir, len(grid), FLAGS.set, vmap=sweep.get('vmap', False),
        partition=FLAGS.slurm_partition, gpus=FLAGS.slurm_gpus, cpus=FLAGS.slurm_cpus,
        mem=FLAGS.slurm_mem, time=FLAGS.slurm_time, parallel=FLAGS.slurm_parallel))
  elif FLAGS.mode == 'task':
    if FLAGS.task is None or not 0 <= FLAGS.task < len(grid):
      raise errors.ConfigError(
          f'--task={FLAGS.task} is invalid; expected 0..{len(grid) - 1}')
    sweep_lib.run_point(sweep, FLAGS.task, FLAGS.workdir)
  elif sweep.get('vmap'):
    sweep_lib.run_grid(sweep, FLAGS.workdir)
  else:
    for i in range(len(grid)):
      sweep_lib.run_point(sweep, i, FLAGS.workdir)


if __name__ == '__main__':
  cli.run(main)
