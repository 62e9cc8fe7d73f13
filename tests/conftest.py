"""Shared fixtures: small IDX data sets written on the fly, the shared data dir."""

import gzip
import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile

# One persistent XLA compilation cache for the session: both pytest workers
# and every CLI subprocess (they inherit the environment) compile the same
# small programs many times; a hit loads the executable instead (a small
# CLI run: 11.3 s -> 5.0 s). Set before JAX is imported; the cache is keyed by
# the program, the compile options and the JAX version, so a stale entry is
# never used. KDJAX_TEST_XLA_CACHE= (empty) turns it off.
_XLA_CACHE = os.environ.get('KDJAX_TEST_XLA_CACHE', os.path.join(
    tempfile.gettempdir(), f'kdjax-tests-xla-cache-{os.getuid()}'))
if _XLA_CACHE:
  os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', _XLA_CACHE)
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')

# The suite compiles hundreds of small programs and runs each a few steps:
# LLVM's optimisation of their machine code costs more than it saves (the
# OFD end-to-end test, cold cache: 78 s -> 38 s). It changes how fast the
# code runs, not what XLA computes. KDJAX_TEST_XLA_OPT=1 keeps XLA's default.
if os.environ.get('KDJAX_TEST_XLA_OPT') != '1':
  os.environ['XLA_FLAGS'] = ' '.join(
      [os.environ.get('XLA_FLAGS', ''), '--xla_backend_optimization_level=0']).strip()

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.environ.get(
    'KDJAX_MNIST_DIR', os.path.join(REPO, '..', 'shared', 'data', 'mnist'))


class CliServer:
  """`python -m MODULE ARGS...` in a fork of one process that has imported
  JAX and kdjax already (tests/cli_server.py), in the calling test's
  environment (or `env`), as a CompletedProcess: for the command lines that
  refuse, print or read files, or train a few steps, without a new
  interpreter's 4 s of imports each."""

  def __init__(self):
    self._proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'tests', 'cli_server.py')], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

  def __call__(self, *args, module='kdjax.main', cwd=REPO, env=None):
    command = ['-m', module, *map(str, args)]
    request = {'args': command, 'cwd': str(cwd),
               'env': dict(os.environ if env is None else env)}
    try:
      self._proc.stdin.write(json.dumps(request) + '\n')
      self._proc.stdin.flush()
      line = self._proc.stdout.readline()
    except BrokenPipeError:
      line = ''
    if not line:
      raise RuntimeError(f'tests/cli_server.py ended (exit {self._proc.wait()})')
    reply = json.loads(line)
    return subprocess.CompletedProcess([sys.executable, *command], reply['returncode'],
                                       reply['stdout'], reply['stderr'])

  def close(self):
    self._proc.stdin.close()
    self._proc.wait(timeout=60)


@pytest.fixture(scope='session')
def cli():
  """A `CliServer` per test process."""
  server = CliServer()
  yield server
  server.close()


def load_config(path):
  """`get_config()` of an experiment config file."""
  spec = importlib.util.spec_from_file_location('experiment_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def idx_bytes(array: np.ndarray) -> bytes:
  """The IDX encoding of a uint8 array (magic 0x08, big-endian sizes)."""
  header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
      int(d).to_bytes(4, 'big') for d in array.shape)
  return header + array.astype(np.uint8).tobytes()


def write_idx_dir(path, n_train=64, n_test=32, size=28, seed=0):
  """Writes the four canonical MNIST IDX .gz files of random digits."""
  rng = np.random.default_rng(seed)
  os.makedirs(path, exist_ok=True)
  for prefix, n in (('train', n_train), ('t10k', n_test)):
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    labels = rng.integers(0, 10, (n,), dtype=np.uint8)
    for kind, array in (('images-idx3', images), ('labels-idx1', labels)):
      with gzip.open(os.path.join(path, f'{prefix}-{kind}-ubyte.gz'), 'wb') as f:
        f.write(idx_bytes(array))
  return path


@pytest.fixture
def idx_dir(tmp_path):
  return write_idx_dir(str(tmp_path / 'idx'))


@pytest.fixture
def shared_mnist():
  if not os.path.exists(os.path.join(SHARED_MNIST, 'train-images-idx3-ubyte.gz')):
    pytest.skip(f'real MNIST not found at {SHARED_MNIST} (set KDJAX_MNIST_DIR)')
  return SHARED_MNIST

CIFAR_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                 'horse', 'ship', 'truck')
SHARED_CIFAR = os.path.join(REPO, '..', 'shared', 'data', 'cifar10-jpeg',
                            'cifar10-jpeg.tar.gz')


def write_image_folder(root, classes=CIFAR_CLASSES, per_class=(3, 2), size=32,
                       suffix='.png'):
  """A train/<class>/, test/<class>/ tree of small random images."""
  from PIL import Image
  rng = np.random.default_rng(0)
  for split, n in zip(('train', 'test'), per_class):
    for cls in classes:
      os.makedirs(os.path.join(root, split, cls), exist_ok=True)
      for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, split, cls, f'{i:04d}{suffix}'))
  return root


def write_cifar100_python(path, n_train=30, n_test=10, drop=None):
  """The canonical cifar-100-python.tar.gz layout: pickled train/test dicts
  (b'data' [N, 3072] CHW rows, b'fine_labels', b'coarse_labels') and meta."""
  rng = np.random.default_rng(1)
  with tarfile.open(path, 'w:gz') as tar:
    for name, n in (('train', n_train), ('test', n_test), ('meta', 0)):
      if name == drop:
        continue
      fine = rng.integers(0, 100, n)
      batch = ({b'fine_label_names': [b'apple'] * 100, b'coarse_label_names': [b'x'] * 20}
               if name == 'meta' else
               {b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b'fine_labels': list(fine), b'coarse_labels': list(fine // 5),
                b'filenames': [b'f.png'] * n})
      raw = pickle.dumps(batch)
      info = tarfile.TarInfo(f'cifar-100-python/{name}')
      info.size = len(raw)
      tar.addfile(info, io.BytesIO(raw))
  return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
  """Each test decodes into its own cache (KDJAX_CACHE_DIR)."""
  monkeypatch.setenv('KDJAX_CACHE_DIR', str(tmp_path / 'kdjax-cache'))
