"""Errors that the command line reports as one line, without a traceback."""

import math
import numbers


def finite(value) -> bool:
  """Whether `value` is a real number other than NaN and +-inf (not a bool):
  what a numeric config check must ask first, since every comparison with
  NaN is False and a range check alone lets it through (a NaN warm-up
  switched it off, a NaN temperature trained to NaN)."""
  return (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value))


class KdjaxError(Exception):
  """A user-facing error: the message names the bad value and what was expected."""


class ConfigError(KdjaxError, ValueError):
  """A config key or value that a run cannot use."""


class DataError(KdjaxError, ValueError):
  """A data set that is missing, corrupt or not what the config says."""


class CheckpointError(KdjaxError, ValueError):
  """A checkpoint that is missing or does not fit the model."""


class OutputError(KdjaxError):
  """An output file that could not be written for want of space (a full
  disk, a quota); nothing partial is left, so the same command resumes."""


class TrainingDiverged(KdjaxError):
  """The training loss became NaN or infinite."""
