"""A Ctrl-C that Python drops (raised inside a finalizer) is raised again."""

import os
import signal
import sys

import pytest

from kdjax import interrupts


class _SignalsWhenCollected:

  def __del__(self):
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000):  # the handler runs here; its exception is dropped
      pass


@pytest.fixture
def installed():
  previous, hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
  interrupts.install()
  yield
  signal.signal(signal.SIGINT, previous)
  sys.unraisablehook = hook
  interrupts._received.clear()  # pylint: disable=protected-access


def test_an_interrupt_dropped_in_a_finalizer_is_raised_at_the_next_check(installed):
  del installed
  _SignalsWhenCollected()  # collected at once: SIGINT arrives inside __del__
  # Python dropped it and went on, as a training loop would.
  with pytest.raises(KeyboardInterrupt):
    interrupts.check()


def test_the_dropped_interrupt_is_not_printed_other_unraisables_are(installed, capfd):
  del installed
  assert getattr(sys.unraisablehook, 'quiet_if_recorded', False)  # put there by install()
  seen = []
  sys.unraisablehook = interrupts._quiet_if_recorded(seen.append)  # pylint: disable=protected-access
  _SignalsWhenCollected()
  assert not seen and 'Traceback' not in capfd.readouterr().err

  class _FailsWhenCollected:
    def __del__(self):
      raise ValueError('not an interrupt')

  _FailsWhenCollected()
  assert [type(u.exc_value) for u in seen] == [ValueError]


def test_no_interrupt_no_raise(installed):
  del installed
  interrupts.check()
