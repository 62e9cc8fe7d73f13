"""Image data on disk: CIFAR-10's and CIFAR-100's python archives and image-folder trees.

Image folders are `<root>/<split>/<class>/*.{png,jpg,jpeg}` (a directory, or a
.tar/.tar.gz of one); classes are the sorted folder names, so CIFAR-10's
folders map to its canonical labels (airplane=0 ... truck=9). Decoded arrays
are cached as .npz (keyed by the source's path, size and mtime), so later
runs start in seconds.
"""

import hashlib
import io
import os
import pickle
import tarfile
import time
import zipfile
import zlib

from absl import logging

import numpy as np

from kdjax import errors

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
CIFAR_PYTHON = ('cifar-10-python.tar.gz', 'cifar-10-batches-py')
CIFAR100_PYTHON = ('cifar-100-python.tar.gz', 'cifar-100-python')
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


def cache_dir():
  return os.environ.get('KDJAX_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'kdjax')


def _identity(source):
  """What the cache key covers: an archive's path, size and mtime; for a
  folder, every file's relative path, size and mtime, so adding, removing
  or replacing any file anywhere in the tree changes the key."""
  digest = hashlib.sha1(os.path.abspath(source).encode())
  if os.path.isdir(source):
    for root, dirs, names in os.walk(source):
      dirs.sort()
      for name in sorted(names):
        st = os.stat(os.path.join(root, name))
        rel = os.path.relpath(os.path.join(root, name), source)
        digest.update(f'|{rel}|{st.st_size}|{st.st_mtime_ns}'.encode())
  else:
    st = os.stat(source)
    digest.update(f'|{st.st_size}|{st.st_mtime_ns}'.encode())
  return digest.hexdigest()[:16]


def _cached(source, build):
  """`build()` -> {split: (images, labels)}, cached by the source's identity.

  A cache folder that cannot be written (KDJAX_CACHE_DIR a file, read-only)
  only costs the decoding next time: a warning, no error.
  """
  path = os.path.join(cache_dir(), f'{os.path.basename(source.rstrip("/"))}-'
                      f'{_identity(source)}.npz')
  if os.path.isfile(path):
    try:
      with np.load(path) as data:
        return {s: (data[f'{s}_images'], data[f'{s}_labels'])
                for s in ('train', 'test')}, path
    except (OSError, ValueError, KeyError, zlib.error, EOFError,
            zipfile.BadZipFile):
      pass  # a damaged cache is rebuilt
  splits = build()
  tmp = path + f'.tmp{os.getpid()}'
  try:
    os.makedirs(cache_dir(), exist_ok=True)
    with open(tmp, 'wb') as f:
      np.savez(f, **{f'{s}_{k}': v for s, (x, y) in splits.items()
                     for k, v in (('images', x), ('labels', y))})
    os.replace(tmp, path)
  except OSError as e:
    logging.warning('decoded images not cached: %s (%s); set KDJAX_CACHE_DIR to '
                    'a writable folder to skip decoding next time', cache_dir(),
                    e.strerror or e)
    if os.path.exists(tmp):
      os.unlink(tmp)
    return splits, None
  return splits, path


def _decode(name, raw):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(io.BytesIO(raw)) as img:
      return np.asarray(img.convert('RGB'), np.uint8)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(f'{name}: not a readable image ({e}); expected a '
                           'PNG or JPEG file') from None


def _members(tar, source):
  """The members of `tar`, refusing an archive cut short.

  tarfile takes a header that is cut off, garbled or missing for the end of
  the archive, so a truncated .tar read as a smaller data set. A complete
  one ends with two zero blocks after its last member, and in a plain .tar
  every member's data lies within the file. (A .tar.gz cut short fails in
  gzip's own end-of-stream check; seeking back in it would decompress the
  whole archive again.)
  """
  plain = isinstance(tar.fileobj, io.BufferedReader)  # not through a decompressor
  size = os.fstat(tar.fileobj.fileno()).st_size if plain else None
  last = None
  for member in tar:
    if size is not None and member.offset_data + member.size > size:
      raise errors.DataError(
          f'{source}: truncated archive: the data of member {member.name!r} ends '
          f'at byte {member.offset_data + member.size}, the file at byte {size}; '
          'expected a complete .tar/.tar.gz')
    last = member.name
    yield member
  if not plain:
    return
  end = 2 * tarfile.BLOCKSIZE
  tar.fileobj.seek(tar.offset)
  if tar.fileobj.read(end) != bytes(end):
    raise errors.DataError(
        f'{source}: truncated archive: no end-of-archive blocks at byte '
        f'{tar.offset} (after member {last!r}); expected a complete .tar/.tar.gz')


def _files(source):
  """Yields (relative path, bytes) of the image files of a folder or archive."""
  if os.path.isdir(source):
    for root, _, names in sorted(os.walk(source)):
      for name in sorted(names):
        if name.lower().endswith(IMAGE_SUFFIXES):
          path = os.path.join(root, name)
          with open(path, 'rb') as f:
            yield os.path.relpath(path, source), f.read()
    return
  try:
    with tarfile.open(source) as tar:
      for member in _members(tar, source):
        if member.isfile() and member.name.lower().endswith(IMAGE_SUFFIXES):
          yield member.name, tar.extractfile(member).read()
  except _ARCHIVE_ERRORS as e:
    raise errors.DataError(f'{source}: corrupt or truncated archive ({e}); '
                           'expected a readable .tar/.tar.gz') from None


def _read_folder(source, expected_classes=None):
  by_split = {'train': {}, 'test': {}}
  for rel, raw in _files(source):
    parts = rel.replace('\\', '/').split('/')[-3:]  # <split>/<class>/<file>
    if len(parts) != 3 or parts[0] not in by_split:
      continue
    split, cls, _ = parts
    by_split[split].setdefault(cls, []).append((rel, raw))
  for split, classes in by_split.items():
    if not classes:
      raise errors.DataError(
          f'{source} has no images under {split}/<class>/; expected '
          f'{split}/<class>/*.png|jpg')
  classes = sorted(by_split['train'])
  if sorted(by_split['test']) != classes:
    missing = sorted(set(classes) ^ set(by_split['test']))
    raise errors.DataError(f'{source}: train/ and test/ differ in classes {missing}; '
                           'expected the same class folders in both')
  if expected_classes is not None and classes != list(expected_classes):
    missing = sorted(set(expected_classes) - set(classes))
    raise errors.DataError(
        f'{source}: class folders {classes} are not the expected ones '
        f'(missing {missing}); expected {list(expected_classes)}')
  out = {}
  total = sum(len(files) for found in by_split.values() for files in found.values())
  progress = Progress(f'decoding {source}', total, 'images')
  for split, found in by_split.items():
    images, labels = [], []
    for label, cls in enumerate(classes):
      for rel, raw in found[cls]:
        images.append(_decode(f'{source}:{rel}', raw))
        labels.append(label)
        progress.update(1)
    shapes = {x.shape for x in images}
    if len(shapes) != 1:
      raise errors.DataError(f'{source}: {split} images have sizes {sorted(shapes)}; '
                             'expected one size')
    out[split] = (np.stack(images), np.asarray(labels, np.int32))
  return out


class Progress:
  """Log lines with count, rate and ETA, at most one every `every` seconds."""

  def __init__(self, what, total, unit, every=5.0):
    self.what, self.total, self.unit, self.every = what, total, unit, every
    self.done, self.start = 0, time.perf_counter()
    self.last = self.start

  def update(self, n):
    self.done += n
    now = time.perf_counter()
    if now - self.last >= self.every or self.done == self.total:
      self.last = now
      rate = self.done / max(now - self.start, 1e-9)
      logging.info('%s: %d/%d %s, %.0f %s/s, ETA %.0f s', self.what, self.done,
                   self.total, self.unit, rate, self.unit,
                   (self.total - self.done) / max(rate, 1e-9))


def find_image_folder(data_dir):
  """The image-folder source in `data_dir` (itself, or one archive in it), or None."""
  if not data_dir or not os.path.isdir(data_dir):
    return None
  if os.path.isdir(os.path.join(data_dir, 'train')):
    return data_dir
  archives = sorted(f for f in os.listdir(data_dir)
                    if f.endswith(('.tar', '.tar.gz', '.tgz'))
                    and f not in (CIFAR_PYTHON[0], CIFAR100_PYTHON[0]))
  return os.path.join(data_dir, archives[0]) if len(archives) == 1 else None


def load_image_folder(source, expected_classes=None):
  """{'train': (uint8 [N, H, W, 3], int32 [N]), 'test': ...}, cached."""
  return _cached(source, lambda: _read_folder(source, expected_classes))


def find_cifar_python(data_dir, names=CIFAR_PYTHON):
  """The CIFAR python archive or folder `names` in `data_dir`, or None."""
  for name in names:
    path = os.path.join(data_dir or '', name)
    if data_dir and os.path.exists(path):
      return path
  return None


def _unpickle(name, raw, label_key=b'labels', what='CIFAR-10'):
  try:
    batch = pickle.loads(raw, encoding='bytes')
    data = np.asarray(batch[b'data'], np.uint8).reshape(-1, 3, 32, 32)
    return data.transpose(0, 2, 3, 1), np.asarray(batch[label_key], np.int32)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(f'{name}: not a {what} python batch ({e})') from None


def _read_members(path, names, what):
  """{name: bytes} of the files `names` in the archive or folder `path`."""
  found = {}
  if os.path.isdir(path):
    for name in names:
      file = os.path.join(path, name)
      if os.path.exists(file):
        with open(file, 'rb') as f:
          found[name] = f.read()
  else:
    try:
      with tarfile.open(path) as tar:
        for member in _members(tar, path):
          base = os.path.basename(member.name)
          if member.isfile() and base in names:
            found[base] = tar.extractfile(member).read()
    except _ARCHIVE_ERRORS as e:
      raise errors.DataError(f'{path}: corrupt or truncated archive ({e}); '
                             f'expected the canonical {what}') from None
  missing = [n for n in names if n not in found]
  if missing:
    raise errors.DataError(f'{path} lacks {missing}; expected {list(names)}')
  return found


def load_cifar_python(path):
  """CIFAR-10 from `cifar-10-python.tar.gz` or its `cifar-10-batches-py/`."""
  names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
  found = _read_members(path, names, 'cifar-10-python.tar.gz')
  train = [_unpickle(f'{path}:{n}', found[n]) for n in names[:5]]
  test = _unpickle(f'{path}:test_batch', found['test_batch'])
  return {'train': (np.concatenate([x for x, _ in train]),
                    np.concatenate([y for _, y in train])), 'test': test}


def load_cifar100_python(path, labels='fine'):
  """CIFAR-100 from `cifar-100-python.tar.gz` or its `cifar-100-python/`
  (files train, test): the fine labels (100) or the coarse ones (20)."""
  found = _read_members(path, ('train', 'test'), 'cifar-100-python.tar.gz')
  key = {'fine': b'fine_labels', 'coarse': b'coarse_labels'}[labels]
  return {split: _unpickle(f'{path}:{split}', found[split], key, 'CIFAR-100')
          for split in ('train', 'test')}
