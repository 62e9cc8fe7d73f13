"""A run's files: config.json, metrics.json, predictions/test.npz.

Every file is written to a temporary name and renamed, so a reader never
sees half a file.
"""

import json
import os
import tempfile

import numpy as np


def _atomic(path, write):
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


def write_text(path, text):
  _atomic(path, lambda f: f.write(text.encode()))


def write_json(path, obj):
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


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
