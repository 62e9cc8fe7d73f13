"""Orbax checkpoints of a run: its `TrainState` and metric history.

All Orbax calls live here, so an API change stays local. A run's checkpoints
are in `<workdir>/checkpoints/<step>/{state,history}`.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from kdjax import errors


def directory(workdir):
  return os.path.join(os.path.abspath(workdir), 'checkpoints')


def manager(workdir, keep: int = 2, create: bool = True) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      directory(workdir),
      options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=create))


def save(mngr, state, history):
  """Writes `state` (a pytree) and `history` (JSON-able) at `state.step`."""
  mngr.save(int(state.step), args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      history=ocp.args.JsonSave(history)))


def restore_latest(mngr, template):
  """(state shaped like `template`, history) of the latest step, or None."""
  step = mngr.latest_step()
  if step is None:
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
  restored = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract),
      history=ocp.args.JsonRestore()))
  return restored['state'], restored['history']


def _shapes(tree):
  return {jax.tree_util.keystr(path): tuple(np.shape(leaf))
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def load_variables(workdir, template: dict, what: str = 'teacher') -> dict:
  """Model variables ({'params', maybe 'batch_stats'}) from a run's latest checkpoint.

  `template` is the model's own variables (or their shapes); a checkpoint whose
  tree or shapes differ is refused with the first mismatching path.
  """
  if not os.path.isdir(directory(workdir)):
    raise errors.CheckpointError(
        f'{what}.workdir={workdir!r} has no checkpoints/ folder; expected the '
        f'workdir of a finished {what} run')
  mngr = manager(workdir, create=False)
  step = mngr.latest_step()
  if step is None:
    raise errors.CheckpointError(
        f'{what}.workdir={workdir!r} holds no complete checkpoint; expected '
        f'the workdir of a finished {what} run')
  restored = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore()))['state']
  mngr.close()
  variables = {'params': restored['params']}
  if template.get('batch_stats'):
    variables['batch_stats'] = restored.get('batch_stats', {})
  got, want = _shapes(variables), _shapes(template)
  for path in sorted(set(got) | set(want)):
    if got.get(path) != want.get(path):
      raise errors.CheckpointError(
          f'{what} checkpoint {workdir!r} (step {step}) does not fit '
          f'{what}.model: {path} is {got.get(path, "missing")} in the '
          f'checkpoint, the model expects {want.get(path, "nothing")}')
  return jax.tree.map(np.asarray, variables)
