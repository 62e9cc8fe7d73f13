"""A run directory's life: created writable, held by one process, and bound
to the config that first trained in it (a different config is refused)."""

import contextlib
import fcntl
import json
import os

from absl import logging

from kdjax import config as config_lib
from kdjax import errors
from kdjax import outputs

# Keys that may change when a run is resumed (they do not change its result).
# (A different train.devices resumes, but not bit-exactly: each shard draws
# its own augmentation and dropout keys. The teacher's initialisation is
# spent: it comes from its checkpoint, bound by teacher.json.)
_RESUMABLE_CHANGES = ('train.epochs', 'train.eval_batch_size', 'train.devices',
                      'checkpoint.', 'latency.', 'teacher.model.param_init')


def config_changes(workdir, config_json, allowed) -> list:
  """[(key, saved value, new value)] where `workdir`'s config.json (its
  missing keys at their defaults) differs from `config_json`, outside the
  `allowed` key prefixes."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return []
  saved = json.loads(config_lib.from_json(outputs.read_json(path)).to_json())
  old, new = config_lib.flatten(saved), config_lib.flatten(config_json)
  return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
          if old.get(k) != new.get(k) and not k.startswith(allowed)]


def started(workdir) -> bool:
  """Whether a run in `workdir` trained anything (a checkpoint or outputs)."""
  return any(os.path.exists(os.path.join(workdir, *p)) for p in (
      ('metrics.json',), ('checkpoints',), ('stage1', 'checkpoints')))


def check_same_run(workdir, config_json, bound=False):
  """Refuses to resume a workdir whose saved config differs from this one.

  A config.json of a start that failed before training (no checkpoint) does
  not bind: the corrected command replaces it. Under a schedule that decays
  over the run, train.epochs is part of the run: a longer or shorter run
  would not equal a fresh run of that length. bound=True: the config.json
  binds even without a checkpoint (a grid's points, checkpointed elsewhere).
  """
  if not (bound or started(workdir)):
    return
  allowed = _RESUMABLE_CHANGES
  if config_json['optimizer']['schedule'] != 'constant':
    allowed = tuple(k for k in allowed if k != 'train.epochs')
  changes = config_changes(workdir, config_json, allowed)
  if changes:
    hint = ('; a run saved before model.param_init existed was Flax-initialised: '
            '--config.model.param_init=flax resumes it') if any(
                k == 'model.param_init' for k, _, _ in changes) else ''
    raise errors.ConfigError(
        f'workdir {workdir!r} holds a run with ' + '; '.join(
            f'{key}={old!r}, this config has {new!r}' for key, old, new in changes) +
        '; expected the same config to resume, or a new --workdir' + hint)


def bind_teacher(workdir, record, started_run: bool):
  """Writes `workdir`/teacher.json ({'workdir', 'step', 'sha256'} of the
  teacher's variables), or refuses to resume a run whose teacher changed
  since it started (e.g. trained further in its workdir): a student would
  finish distilled from two teachers. `started_run`: the run has trained."""
  path = os.path.join(workdir, 'teacher.json')
  if started_run and os.path.exists(path):
    old = outputs.read_json(path)
    if old.get('sha256') != record['sha256']:
      raise errors.ConfigError(
          f'teacher.workdir={record["workdir"]!r} now holds step {record["step"]} '
          f'(variables sha256 {record["sha256"][:16]}), but {workdir!r} started '
          f'distilling from step {old.get("step")} ({str(old.get("sha256"))[:16]}); '
          'expected the same teacher to resume, or a new --workdir')
  outputs.write_json(path, record)


def make(workdir):
  """Creates `workdir`; a one-line error if it cannot be written."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f'.write-test-{os.getpid()}')
    with open(probe, 'w'):
      pass
    os.unlink(probe)
  except OSError as e:
    raise errors.ConfigError(
        f'--workdir={workdir!r} is not a writable directory ({e.strerror})') from None


@contextlib.contextmanager
def exclusive(workdir):
  """Holds `<workdir>/.lock` for one process; the kernel frees it if we die."""
  path = os.path.join(workdir, '.lock')
  try:
    f = open(path, 'a+')
  except OSError as e:
    raise errors.ConfigError(f'workdir {workdir!r} cannot be written ({e.strerror}); '
                             'expected a writable run directory') from None
  with f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      owner = f.read().strip() or 'unknown'
      raise errors.ConfigError(
          f'workdir {workdir!r} is in use by another kdjax process (pid {owner}); '
          'expected one run per workdir') from None
    f.seek(0)
    stale = f.read().strip()
    if stale:
      logging.warning('%s: taking over the lock of pid %s, which is no longer '
                      'running', workdir, stale)
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    try:
      yield
    finally:
      os.unlink(path)
      fcntl.flock(f, fcntl.LOCK_UN)


def finished_steps(workdir):
  """The step count a finished run's metrics.json records, else None (also
  for the metrics.json of an unfinished run's eval: `finished: false`)."""
  path = os.path.join(workdir, 'metrics.json')
  try:
    metrics = outputs.read_json(path)
    return None if metrics.get('finished') is False else int(metrics['steps'])
  except (OSError, ValueError, KeyError, TypeError, AttributeError):
    return None


