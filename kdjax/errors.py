"""Errors that the command line reports as one line, without a traceback."""


class KdjaxError(Exception):
  """A user-facing error: the message names the bad value and what was expected."""


class ConfigError(KdjaxError, ValueError):
  """A config key or value that a run cannot use."""


class DataError(KdjaxError, ValueError):
  """A data set that is missing, corrupt or not what the config says."""


class CheckpointError(KdjaxError, ValueError):
  """A checkpoint that is missing or does not fit the model."""


class TrainingDiverged(KdjaxError):
  """The training loss became NaN or infinite."""
