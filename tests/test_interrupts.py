"""A Ctrl-C that Python drops (raised inside a finalizer) is raised again."""

import os
import signal

import pytest

from kdjax import interrupts


class _SignalsWhenCollected:

  def __del__(self):
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000):  # the handler runs here; its exception is dropped
      pass


@pytest.fixture
def installed():
  previous = signal.getsignal(signal.SIGINT)
  interrupts.install()
  yield
  signal.signal(signal.SIGINT, previous)
  interrupts._received.clear()  # pylint: disable=protected-access


@pytest.mark.filterwarnings('ignore::pytest.PytestUnraisableExceptionWarning')
def test_an_interrupt_dropped_in_a_finalizer_is_raised_at_the_next_check(installed):
  del installed
  _SignalsWhenCollected()  # collected at once: SIGINT arrives inside __del__
  # Python printed "Exception ignored" and went on, as a training loop would.
  with pytest.raises(KeyboardInterrupt):
    interrupts.check()


def test_no_interrupt_no_raise(installed):
  del installed
  interrupts.check()
