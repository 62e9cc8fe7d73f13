"""Data parallelism: the per-shard step under `jax.shard_map` (or `jax.pmap`).

The step functions in `kdjax.steps` take an `axis_name`; with it they average
gradients, BatchNorm statistics (models built with the same axis name
normalise with the global batch's statistics) and metrics across devices.
The global batch (config.train.batch_size) is split evenly over the mesh.

Multi-host: `initialize_distributed` joins JAX's distributed runtime (one
process per node or per GPU, e.g. SLURM tasks); the mesh then spans every
process's devices. Each process reads the data set from its own disk and
holds it replicated on its devices (`replicate`); the compiled step gives
each device its slice of every global batch, so no examples travel between
hosts, and every process runs the same programs in the same order.
"""

import dataclasses
import os
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from kdjax import errors

AXIS = 'data'


def distributed_requested(mode: str = 'auto') -> bool:
  """Whether `train.distributed=mode` asks for a multi-process run here."""
  multi_task = int(os.environ.get('SLURM_NTASKS', '1')) > 1
  return mode == 'yes' or (
      mode == 'auto' and ('KDJAX_COORDINATOR' in os.environ or multi_task))


def initialize_distributed(mode: str = 'auto') -> bool:
  """Joins the multi-process runtime when `train.distributed` asks; True if joined.

  'auto': when launched as one of several SLURM tasks (SLURM_NTASKS > 1) or
  when KDJAX_COORDINATOR is set; 'yes': always; 'no': never. Coordinates
  come from KDJAX_COORDINATOR (host:port), KDJAX_NUM_PROCESSES and
  KDJAX_PROCESS_ID when set, else from JAX's detection (SLURM, Open MPI).
  Must run before JAX's first computation.
  """
  env = os.environ
  asked = distributed_requested(mode)
  if not asked or jax.distributed.is_initialized():
    return asked
  kwargs = {}
  if 'KDJAX_COORDINATOR' in env:
    try:
      kwargs = dict(coordinator_address=env['KDJAX_COORDINATOR'],
                    num_processes=int(env['KDJAX_NUM_PROCESSES']),
                    process_id=int(env['KDJAX_PROCESS_ID']))
    except (KeyError, ValueError) as e:
      raise errors.ConfigError(
          f'KDJAX_COORDINATOR is set but KDJAX_NUM_PROCESSES / KDJAX_PROCESS_ID '
          f'are missing or not integers ({e}); expected all three') from None
  # Cross-process collectives of the CPU backend (GPUs use NCCL).
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(**kwargs)
  return True


def is_primary() -> bool:
  """Whether this process writes the run's files (process 0 of a multi-host run)."""
  return jax.process_index() == 0


def replicate(tree, mesh):
  """Host values (numpy or single-device arrays) as arrays replicated over
  `mesh`, across processes too; each process supplies its own copy."""
  sharding = replicated(mesh)

  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  return jax.tree.map(put, tree)


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  """A 1-D mesh over the first `num_devices` devices of all processes (0: all)."""
  available = jax.devices()
  if num_devices > len(available):
    raise errors.ConfigError(
        f'train.devices={num_devices} but only {len(available)} devices are '
        f'available; expected at most {len(available)} (0 = all)')
  devices = available[:num_devices or None]
  # Auto axes: jit may reshard inputs to what shard_map's in_specs ask for.
  return jax.make_mesh((len(devices),), (AXIS,), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))


def check_batch(batch_size: int, num_devices: int):
  if batch_size % num_devices:
    raise errors.ConfigError(
        f'train.batch_size={batch_size} does not divide over {num_devices} '
        f'devices; expected a multiple of {num_devices}')


def replicated(mesh):
  return NamedSharding(mesh, P())


@dataclasses.dataclass(frozen=True)
class ShardedStep:
  """`step` (a `steps.Step` or `GridStep`) run per shard under `jax.shard_map`:
  the batch split over `mesh`, everything else replicated."""
  step: Any
  mesh: jax.sharding.Mesh

  def clock(self, state):
    return self.step.clock(state)

  def __call__(self, state, batch, rng, teacher_variables, hparams):
    return jax.shard_map(
        self.step.on_axis(AXIS), mesh=self.mesh,
        in_specs=(P(), P(AXIS), P(), P(), P()), out_specs=(P(), P()),
        check_vma=False)(state, batch, rng, teacher_variables, hparams)


def shard_step(step_fn, mesh) -> ShardedStep:
  """`step_fn(state, batch, rng, teacher_variables, hparams)` (a `steps.Step`
  or `GridStep`) per shard, with the batch split over `mesh` and everything
  else replicated."""
  return ShardedStep(step_fn, mesh)


def pmap_step(step_fn):
  """The same step under `jax.pmap`: batch leaves [devices, B / devices, ...];
  the state is broadcast in and comes out stacked per device."""
  return jax.pmap(step_fn.on_axis(AXIS), axis_name=AXIS,
                  in_axes=(None, 0, None, None, None))
