"""Orbax checkpoints of a run: its `TrainState` and metric history.

All Orbax calls live here, so an API change stays local. A run's checkpoints
are in `<workdir>/checkpoints/<step>/{state,history}`.
"""

import json
import os

from absl import logging
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
  """Writes `state` (a pytree) and `history` (JSON-able) at `state.step`
  (for a grid of states, which share their step: at the first one's; a
  tuple of per-point states, `steps.GridStep.point_steps`, at its first).

  Orbax serialises the JSON in a background thread, after this returns; the
  caller appends the next epoch to `history` meanwhile, so a snapshot is
  saved (else, on a busy machine, a checkpoint's history ran one epoch
  ahead of its state, and a resumed run skipped that epoch).
  """
  first = state[0] if isinstance(state, tuple) else state
  mngr.save(int(np.ravel(first.step)[0]), args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      history=ocp.args.JsonSave(json.loads(json.dumps(history)))))


def save_variables(workdir, variables: dict, step: int = 0):
  """Writes model `variables` as the checkpoint of a run at `step` (no
  optimizer state): what `load_variables` reads, e.g. an imported teacher."""
  mngr = manager(workdir)
  mngr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave({'step': np.int64(step), **variables}),
      history=ocp.args.JsonSave([])))
  mngr.wait_until_finished()
  mngr.close()


def _restore_newest(mngr, args, where):
  """(step, restored) of the newest checkpoint that reads back, or (None, None).

  A checkpoint that fails to restore (truncated or corrupt files) is skipped
  with a warning, falling back to the one before it.
  """
  steps = sorted(mngr.all_steps(), reverse=True)
  for step in steps:
    try:
      return step, mngr.restore(step, args=args)
    except Exception as e:  # pylint: disable=broad-except
      reason = f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'
      logging.warning('%s: checkpoint at step %d is unreadable (%s); falling '
                      'back to the previous one', where, step, reason)
  if steps:  # Never silently start over on top of checkpoints we cannot read.
    raise errors.CheckpointError(
        f'{where}: none of the checkpoints at steps {sorted(steps)} can be '
        f'restored into this run ({reason}); expected checkpoints of this '
        'config (same model and optimizer), or a new workdir')
  return None, None


def restore_latest(mngr, template):
  """(state shaped like `template`, history) of the newest readable step, or None."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
  step, restored = _restore_newest(mngr, ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract),
      history=ocp.args.JsonRestore()), mngr.directory)
  if step is None:
    return None
  return restored['state'], restored['history']


def _shapes(tree):
  return {jax.tree_util.keystr(path): tuple(np.shape(leaf))
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def load_variables(workdir, template: dict, what: str = 'teacher'):
  """(model variables ({'params', maybe 'batch_stats'}), step) of a run's
  newest readable checkpoint.

  `template` is the model's own variables (or their shapes); a checkpoint whose
  tree or shapes differ is refused with the first mismatching path.
  """
  if not os.path.isdir(directory(workdir)):
    raise errors.CheckpointError(
        f'{what}.workdir={workdir!r} has no checkpoints/ folder; expected the '
        f'workdir of a finished {what} run')
  mngr = manager(workdir, create=False)
  step, restored = _restore_newest(mngr, ocp.args.Composite(
      state=ocp.args.StandardRestore()), workdir)
  mngr.close()
  if step is None:
    raise errors.CheckpointError(
        f'{what}.workdir={workdir!r} holds no complete checkpoint; expected '
        f'the workdir of a finished {what} run')
  restored = restored['state']
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
  logging.info('%s: %s checkpoint at step %d', workdir, what, step)
  return jax.tree.map(np.asarray, variables), step
