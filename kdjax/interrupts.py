"""Ctrl-C that is never lost.

Python turns SIGINT into a KeyboardInterrupt in the main thread; one raised
while a finalizer (`__del__`, a weakref callback) runs is printed as
"Exception ignored" and dropped, and training goes on. Seen once under CPU
load: a run sent SIGINT trained on for a minute. `install()` also records
the signal; the training loop calls `check()` between steps, which raises
the interrupt again if it was dropped. The dropped one is not printed (its
"Exception ignored ... Traceback" broke the one-line promise of Ctrl-C: seen
in the suite under CPU load, raised inside JAX's gc callback); every other
unraisable exception still is.
"""

import signal
import sys
import threading

_received = threading.Event()


def _handler(signum, frame):
  del signum, frame
  _received.set()
  raise KeyboardInterrupt


def _quiet_if_recorded(hook):
  """`sys.unraisablehook` that drops the KeyboardInterrupts `_handler` raised
  (recorded, so `check()` raises them again) and passes the rest to `hook`."""
  def unraisablehook(unraisable):
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _received.is_set():
      return
    hook(unraisable)
  unraisablehook.quiet_if_recorded = True
  return unraisablehook


def install():
  """Routes SIGINT through `_handler` (main thread only, as `signal` requires)."""
  _received.clear()
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, _handler)
    if not getattr(sys.unraisablehook, 'quiet_if_recorded', False):
      sys.unraisablehook = _quiet_if_recorded(sys.unraisablehook)


def check():
  """Raises KeyboardInterrupt if SIGINT arrived since `install()`."""
  if _received.is_set():
    raise KeyboardInterrupt
