"""Reader for the IDX files MNIST-style data sets ship as (LeCun's format).

An IDX file is a 4-byte magic (0x0000, dtype code 0x08 = uint8, ndim), ndim
big-endian uint32 sizes, then the bytes. Files may be gzipped.
"""

import gzip
import hashlib
import os
import zlib

import numpy as np

from kdjax import errors

SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def find(data_dir, stem):
  """Path of `stem` or `stem.gz` in `data_dir`, or None."""
  for name in (stem + '.gz', stem):
    path = os.path.join(data_dir, name)
    if os.path.isfile(path):
      return path
  return None


def has_idx_files(data_dir) -> bool:
  return bool(data_dir) and all(
      find(data_dir, stem) for pair in SPLIT_FILES.values() for stem in pair)


def _read_bytes(path):
  try:
    if path.endswith('.gz'):
      with gzip.open(path, 'rb') as f:
        return f.read()
    with open(path, 'rb') as f:
      return f.read()
  except (OSError, EOFError, zlib.error) as e:
    raise errors.DataError(
        f'{path}: cannot be read ({e}); expected a complete IDX file, '
        'gzipped or not') from None


def parse(raw: bytes, path: str, ndim: int) -> np.ndarray:
  """Decodes IDX bytes into a uint8 array of rank `ndim`, checking every size."""
  expected_magic = 0x0800 | ndim
  magic = int.from_bytes(raw[:4], 'big') if len(raw) >= 4 else None
  if magic != expected_magic:
    got = 'a file shorter than 4 bytes' if magic is None else f'0x{magic:08x}'
    raise errors.DataError(
        f'{path}: magic number is {got}; expected 0x{expected_magic:08x} '
        f'(an IDX uint8 array of rank {ndim})')
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise errors.DataError(f'{path}: truncated header ({len(raw)} bytes)')
  shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big')
                for i in range(ndim))
  size = int(np.prod(shape))
  if len(raw) - header != size:
    raise errors.DataError(
        f'{path}: holds {len(raw) - header} data bytes; its header {shape} '
        f'expects {size} (truncated or corrupt file)')
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_split(data_dir, split, md5s=None):
  """(images uint8 [N, H, W, 1], labels int32 [N]) of one split.

  Args:
    data_dir: folder with the canonical IDX file names, `.gz` or not.
    split: 'train' or 'test'.
    md5s: optional {file stem: MD5 of the decompressed bytes} to enforce.
  """
  arrays = []
  for stem, ndim in zip(SPLIT_FILES[split], (3, 1)):
    path = find(data_dir, stem)
    if path is None:
      raise errors.DataError(
          f'dataset.data_dir={data_dir!r} has no {stem}[.gz]; expected the '
          f'four IDX files {[s + ".gz" for p in SPLIT_FILES.values() for s in p]}')
    raw = _read_bytes(path)
    if md5s and stem in md5s:
      digest = hashlib.md5(raw).hexdigest()
      if digest != md5s[stem]:
        raise errors.DataError(
            f'{path}: MD5 of the decompressed bytes is {digest}; expected '
            f'{md5s[stem]} (corrupt or not the canonical file)')
    arrays.append(parse(raw, path, ndim))
  images, labels = arrays
  if len(images) != len(labels):
    raise errors.DataError(
        f'{data_dir}: {split} has {len(images)} images but {len(labels)} labels')
  return images[..., None], labels.astype(np.int32)
