"""Data parallelism: the per-shard step under `jax.shard_map` (or `jax.pmap`).

The step functions in `kdjax.steps` take an `axis_name`; with it they average
gradients, BatchNorm statistics (models built with the same axis name
normalise with the global batch's statistics) and metrics across devices.
The global batch (config.train.batch_size) is split evenly over the mesh.
"""

import functools

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from kdjax import errors

AXIS = 'data'


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  """A 1-D mesh over the first `num_devices` devices (0: all of them)."""
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


def shard_step(step_fn, mesh):
  """`step_fn(state, batch, rng, teacher_variables, hparams, axis_name=...)` with
  the batch split over `mesh` and everything else replicated."""
  return jax.shard_map(
      functools.partial(step_fn, axis_name=AXIS), mesh=mesh,
      in_specs=(P(), P(AXIS), P(), P(), P()), out_specs=(P(), P()),
      check_vma=False)


def pmap_step(step_fn):
  """The same step under `jax.pmap`: batch leaves [devices, B / devices, ...];
  the state is broadcast in and comes out stacked per device."""
  return jax.pmap(functools.partial(step_fn, axis_name=AXIS), axis_name=AXIS,
                  in_axes=(None, 0, None, None, None))
