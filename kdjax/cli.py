"""Command-line plumbing shared by kdjax's entry points.

`run(main)` is `absl.app.run` with three changes: a bad flag or config
override, and any `KdjaxError`, end the program with one line
`kdjax: error: ...` and exit code 2 (`--verbose` shows the traceback); and
the INFO chatter of Orbax and TFDS is dropped from the log.
"""

import ast
import logging as std_logging
import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from kdjax import config as config_lib
from kdjax import errors
from kdjax import interrupts

flags.DEFINE_bool('verbose', False, 'Show full tracebacks of errors.')
FLAGS = flags.FLAGS

_NOISY_LOGGERS = ('/orbax/', '/tensorflow_datasets/', '/etils/', 'xla_bridge', '/jax2onnx/',
                  '/matplotlib/')


def _quiet_libraries(record):
  return record.levelno > std_logging.INFO or not any(
      part in record.pathname for part in _NOISY_LOGGERS)


def _one_line(error):
  text = str(error.args[0] if error.args else error)
  if text[:1] in '\'"':  # KeyError messages arrive as a repr() of the text.
    try:
      text = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      pass
  return ' '.join(text.split())


def _without_traceback(text):
  """A flag error in one line; where it carries a traceback (a config file's
  get_config(arg) that raised), the flag and the error it ends with."""
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  if not any(line.startswith('Traceback (most recent call last)') for line in lines):
    return ' '.join(' '.join(lines).split())
  flag = lines[0].split(': Error whilst')[0].split(': Traceback')[0]
  last = next((line for line in reversed(lines)
               if re.match(r'^[\w.]*(Error|Exception)\b.*: ', line)), lines[-1])
  error = last.split(': ', 1)[1] if ': ' in last else last
  return f'{flag}: {error}'


def _fail(message):
  logging.flush()
  print(f'kdjax: error: {message}', file=sys.stderr)
  sys.exit(2)


_HELP = ('--help', '-h', '-?', '--helpshort', '--helpfull')


def parse_flags(argv):
  """absl's flag parsing, with a bad flag or config override as one line;
  --help prints the program's usage and flags and exits 0."""
  if any(a in _HELP for a in argv[1:]):
    module = sys.modules['__main__']
    print((module.__doc__ or '').strip() + '\n')
    print(FLAGS.get_help() if '--helpfull' in argv else FLAGS.main_module_help())
    sys.exit(0)
  try:
    return FLAGS(argv)
  except flags.Error as e:
    _fail(_without_traceback(str(e)))
  except (AttributeError, KeyError) as e:  # an override of an unknown key
    detail = _one_line(e)
    missing = re.match(r"'?(\w*)", detail).group(1)
    overrides = [a.split('=')[0][2:] for a in argv[1:]
                 if a.startswith('--config.')]
    key = next((o for o in overrides if missing in o.split('.')), missing)
    hint = detail[detail.find('Did you mean'):] if 'Did you mean' in detail else ''
    _fail(f'unknown config key {key!r}' + (f' ({hint})' if hint else ''))
  except (TypeError, ValueError) as e:
    _fail(f'bad config override: {_one_line(e)}')
  except Exception as e:  # pylint: disable=broad-except
    # A config file that cannot be loaded: missing, a directory, a syntax
    # error, a failing import or a raising get_config().
    config = next((a for a in argv[1:] if a.startswith('--config=')), None)
    if config is None or FLAGS.is_parsed() and FLAGS['verbose'].value:
      raise
    _fail(f'{config} cannot be loaded ({type(e).__name__}: {_one_line(e)}); '
          'expected a Python file whose get_config() returns a ConfigDict')


def loaded_config(name: str = 'config'):
  """The ConfigDict of the `--<name>` config-file flag, or None where it was
  not given; a file that cannot be loaded, or whose get_config() returns
  something else, is one line."""
  holder = FLAGS[name]
  try:
    config = holder.value
    if config is not None or holder.present:
      getattr(config, 'keys', None)  # config_flags raises a deferred load error on first use
      config_lib.check_loaded(config, config_flags.get_config_filename(holder))
      return config
  except OSError as e:
    raise errors.ConfigError(
        f'--{name} cannot be loaded ({_innermost(e)}); expected a Python file whose '
        'get_config() returns a ConfigDict') from None
  return None


def _innermost(error):
  """The innermost cause of a deferred config-file error, in one line."""
  while error.__cause__ is not None or error.__context__ is not None:
    error = error.__cause__ or error.__context__
  return ' '.join(f'{type(error).__name__}: {error}'.split())


def run(main, max_args=0):
  """Runs `main(argv)` as an absl program with kdjax's error handling.

  `max_args`: how many positional arguments (after the program) it takes.
  """

  def wrapped(argv):
    if len(argv) - 1 > max_args:
      _fail(f'unexpected arguments {argv[1 + max_args:]}')
    logging.get_absl_handler().addFilter(_quiet_libraries)
    interrupts.install()
    try:
      main(argv)
    except errors.KdjaxError as e:
      if FLAGS.verbose:
        raise
      _fail(e)
    except KeyboardInterrupt:
      if FLAGS.verbose:
        raise
      logging.flush()
      print('kdjax: interrupted; the same command resumes from the last '
            'checkpoint', file=sys.stderr)
      sys.exit(130)

  app.run(wrapped, flags_parser=parse_flags)
