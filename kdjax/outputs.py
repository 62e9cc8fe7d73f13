"""A run's files: config.json, metrics.json, predictions/test.npz.

Every file is written to a temporary name and renamed, so a reader never
sees half a file. A full disk (or quota) is one line naming the file, an
`OutputError`: the temporary file is removed, and the same command resumes
once there is space.
"""

import errno
import hashlib
import json
import os
import sys
import tempfile

import numpy as np

from kdjax import errors

# errno values of a file system without room for the file.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _atomic(path, write):
  """Writes `path` by `write(f)` to a temporary file, then a rename."""
  try:
    _write_and_rename(path, write)
  except OSError as e:
    if e.errno not in _NO_SPACE:
      raise
    raise errors.OutputError(
        f'{path} could not be written ({e.strerror or os.strerror(e.errno)}); no '
        'partial file was left: free some space and run the same command again, '
        'it resumes') from e


def _write_and_rename(path, write):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                             prefix='.tmp-')
  try:
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600; honour the umask
    with os.fdopen(fd, 'wb') as f:
      write(f)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def write_with(path, write):
  """Writes `path` by `write(f)` (a binary file), atomically, honouring the umask."""
  _atomic(path, write)


def write_text(path, text):
  _atomic(path, lambda f: f.write(text.encode()))


def write_json(path, obj):
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def file_sha256(path: str) -> str:
  """SHA-256 (hex) of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def read_json(path):
  with open(path) as f:
    return json.load(f)


def write_predictions(path, labels, logits):
  """Saves labels int32 [N], logits float32 [N, C], predictions int32 [N]."""
  logits = np.asarray(logits, np.float32)
  arrays = dict(labels=np.asarray(labels, np.int32), logits=logits,
                predictions=logits.argmax(-1).astype(np.int32))
  _atomic(path, lambda f: np.savez_compressed(f, **arrays))


def read_predictions(path):
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


def summary_writer(logdir: str):
  """A TensorBoard writer (tensorboardX) for `logdir`.

  tensorboardX's writer module tries `import torch` at import time, only to
  accept torch tensors; where torch is installed but not yet imported, that
  costs seconds (3.6 s on the 2-core AMD EPYC) in every process that trains.
  kdjax logs Python floats, so torch is hidden from that one import.
  """
  hide = 'tensorboardX' not in sys.modules and 'torch' not in sys.modules
  if hide:
    sys.modules['torch'] = None  # `import torch` raises ImportError
  try:
    import tensorboardX  # pylint: disable=g-import-not-at-top
  finally:
    if hide:
      del sys.modules['torch']
  return tensorboardX.SummaryWriter(logdir)
