"""Runs `python -m MODULE ARGS...` command lines for the tests without a new
interpreter each: imports JAX and kdjax once, then forks a child per command
line, which runs the module as `python -m` does (runpy, as `__main__`, with
`sys.argv` set) and writes its stdout and stderr to files of its own.

Protocol: one JSON request per stdin line, {"args": ["-m", MODULE, ...],
"cwd": DIR}; one JSON reply per stdout line, {"returncode", "stdout",
"stderr"}. An exception that escapes the module prints its traceback and
exits 1, as the interpreter would.

Why: a fresh interpreter spends about 4 s importing JAX (2-core CPU), and the
suite's command-line refusals are dozens of such starts that end before any
training. The parent never initialises a JAX backend (it checks), so each
child starts XLA as a fresh process would. Tests that set environment
variables, send signals or train for real keep using plain subprocesses.
"""

import importlib
import json
import os
import runpy
import sys
import tempfile
import traceback

from jax._src import xla_bridge

# The imports every kdjax command line pays for (not kdjax.main nor
# kdjax.analysis.__main__: the child defines their flags when it runs them).
for _module in ('jax', 'kdjax.cli', 'kdjax.train', 'kdjax.analysis.report'):
  importlib.import_module(_module)


def _child(args, cwd, out, err):
  os.dup2(out.fileno(), 1)
  os.dup2(err.fileno(), 2)
  code = 0
  try:
    if args[0] != '-m':
      raise ValueError(f'expected -m MODULE ..., got {args!r}')
    os.chdir(cwd)
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name='__main__', alter_sys=True)
  except SystemExit as e:
    if e.code is None or isinstance(e.code, int):
      code = e.code or 0
    else:
      print(e.code, file=sys.stderr)
      code = 1
  except BaseException:  # pylint: disable=broad-except
    sys.excepthook(*sys.exc_info())
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def run(args, cwd):
  """{'returncode', 'stdout', 'stderr'} of one command line, run in a fork."""
  if xla_bridge.backends_are_initialized():
    raise RuntimeError('the server initialised a JAX backend; its children would share it')
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
      try:
        _child(args, cwd, out, err)
      finally:
        os._exit(1)  # pylint: disable=protected-access
    _, status = os.waitpid(pid, 0)
    texts = []
    for f in (out, err):
      f.seek(0)
      texts.append(f.read().decode('utf-8', 'replace'))
  return {'returncode': os.waitstatus_to_exitcode(status), 'stdout': texts[0],
          'stderr': texts[1]}


def main():
  for line in sys.stdin:
    try:
      request = json.loads(line)
      reply = run(request['args'], request['cwd'])
    except Exception:  # pylint: disable=broad-except
      reply = {'returncode': -1, 'stdout': '', 'stderr': traceback.format_exc()}
    sys.stdout.write(json.dumps(reply) + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
  main()
