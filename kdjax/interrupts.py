"""Ctrl-C that is never lost.

Python turns SIGINT into a KeyboardInterrupt in the main thread; one raised
while a finalizer (`__del__`, a weakref callback) runs is printed as
"Exception ignored" and dropped, and training goes on. Seen once under CPU
load: a run sent SIGINT trained on for a minute. `install()` also records
the signal; the training loop calls `check()` between steps, which raises
the interrupt again if it was dropped.
"""

import signal
import threading

_received = threading.Event()


def _handler(signum, frame):
  del signum, frame
  _received.set()
  raise KeyboardInterrupt


def install():
  """Routes SIGINT through `_handler` (main thread only, as `signal` requires)."""
  _received.clear()
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, _handler)


def check():
  """Raises KeyboardInterrupt if SIGINT arrived since `install()`."""
  if _received.is_set():
    raise KeyboardInterrupt
