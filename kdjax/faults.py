"""Crash points, for testing that a killed run resumes exactly.

Setting KDJAX_CRASH_AT='NAME:N' sends SIGKILL to this process the N-th time
it passes `crash_point('NAME')` (no cleanup, as a preemption or OOM kill).
Unset, a crash point costs one dictionary lookup.
"""

import collections
import os
import signal

_passes = collections.Counter()


def crash_point(name: str):
  spec = os.environ.get('KDJAX_CRASH_AT')
  if not spec:
    return
  target, _, count = spec.partition(':')
  if target == name:
    _passes[name] += 1
    if _passes[name] == int(count or 1):
      os.kill(os.getpid(), signal.SIGKILL)
