"""Runs `python -m MODULE ARGS...` command lines for the tests without a new
interpreter each: imports JAX and kdjax once, then forks a child per command
line, which runs the module as `python -m` does (runpy, as `__main__`, with
`sys.argv`, `sys.path[0]`, the cwd and the environment of the request) and
exits as the interpreter does (thread joins, atexit handlers, flushes; not
its module teardown), its stdout and stderr in files of its own.

Protocol: one JSON request per stdin line, {"args": ["-m", MODULE, ...],
"cwd": DIR, "env": {...}}; one JSON reply per stdout line, {"returncode",
"stdout", "stderr"}. What the shared imports wrote to stderr starts every
reply's stderr, as a fresh process would print it. A child killed after
TIMEOUT_S seconds returns -14 (SIGALRM).

Why: a fresh interpreter spends about 4 s importing JAX (2-core CPU), and the
suite's command-line refusals are dozens of such starts that end before any
training. The parent never initialises a JAX backend (it checks), so each
child starts XLA as a fresh process would. The variables JAX reads when it is
imported (JAX_*, XLA_FLAGS) must be the server's own: a request that changes
them is refused.
"""

import atexit
import importlib
import json
import os
import runpy
import signal
import sys
import tempfile
import threading
import traceback

TIMEOUT_S = 300


def _imports():
  """The imports every kdjax command line pays for (not kdjax.main nor
  kdjax.analysis.__main__: the child defines their flags when it runs them);
  returns what they wrote to stderr."""
  with tempfile.TemporaryFile() as err:
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(err.fileno(), 2)
    try:
      for module in ('jax', 'kdjax.cli', 'kdjax.train', 'kdjax.analysis.report'):
        importlib.import_module(module)
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
    err.seek(0)
    return err.read()


IMPORT_STDERR = _imports()
IMPORT_ENV = {k: v for k, v in os.environ.items() if k.startswith('JAX_') or k == 'XLA_FLAGS'}

from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top,wrong-import-position


def _child(args, cwd, env, out, err):
  """Runs the command line in this (forked) process; never returns."""
  stdin = os.open(os.devnull, os.O_RDONLY)
  os.dup2(stdin, 0)
  os.dup2(out.fileno(), 1)
  os.dup2(err.fileno(), 2)
  os.write(2, IMPORT_STDERR)
  signal.alarm(TIMEOUT_S)
  code = 0
  try:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.path[0] = os.getcwd()  # as `python -m` sets it
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name='__main__', alter_sys=True)
  except SystemExit as e:
    code = e.code
  except BaseException:  # pylint: disable=broad-except
    sys.excepthook(*sys.exc_info())
    code = 1
  if code is not None and not isinstance(code, int):  # SystemExit('message')
    print(code, file=sys.stderr)
    code = 1
  # The interpreter's exit up to its module teardown (0.85 s a process here,
  # which a forked child has no need of): thread joins, atexit handlers,
  # flushes.
  threading._shutdown()  # pylint: disable=protected-access
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code or 0)  # pylint: disable=protected-access


def run(request):
  """{'returncode', 'stdout', 'stderr'} of one command line, run in a fork."""
  args, cwd, env = request['args'], request['cwd'], request['env']
  if len(args) < 2 or args[0] != '-m':
    raise ValueError(f'expected ["-m", MODULE, ...], got {args!r}')
  read_at_import = set(IMPORT_ENV) | {k for k in env if k.startswith('JAX_')} | {'XLA_FLAGS'}
  changed = sorted(k for k in read_at_import if IMPORT_ENV.get(k) != env.get(k))
  if changed:
    raise ValueError(f'{changed} differ from the server\'s (JAX reads them when '
                     'imported); run that command line in a subprocess')
  if xla_bridge.backends_are_initialized():
    raise RuntimeError('the server initialised a JAX backend; its children would share it')
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
      _child(args, cwd, env, out, err)
    _, status = os.waitpid(pid, 0)
    texts = []
    for f in (out, err):
      f.seek(0)
      texts.append(f.read().decode().replace('\r\n', '\n').replace('\r', '\n'))
  return {'returncode': os.waitstatus_to_exitcode(status), 'stdout': texts[0],
          'stderr': texts[1]}


def main():
  for line in sys.stdin:
    try:
      reply = run(json.loads(line))
    except Exception:  # pylint: disable=broad-except
      reply = {'returncode': -1, 'stdout': '', 'stderr': traceback.format_exc()}
    sys.stdout.write(json.dumps(reply) + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
  main()
