"""Data sets as whole splits in memory: uint8 images [N, H, W, C], int32 labels.

Sources (`dataset.source`): 'idx' (the canonical IDX .gz files in
`dataset.data_dir`), 'cifar_python' (cifar-10-python.tar.gz or
cifar-10-batches-py/), 'image_folder' (train/<class>/*.jpg and test/..., a
folder or a .tar.gz of one), 'tfds' (a prepared TFDS data_dir, or a
download), 'sklearn' (scikit-learn's bundled 8x8 digits), and 'auto' (the
first of these that `data_dir` holds, else TFDS).
"""

import dataclasses
import hashlib
import os
from typing import Optional

import numpy as np

from kdjax import errors
from kdjax.data import idx
from kdjax.data import images as image_files
from kdjax.data import tfds_source


@dataclasses.dataclass(frozen=True)
class Split:
  images: np.ndarray  # uint8 [N, H, W, C]
  labels: np.ndarray  # int32 [N]

  def __len__(self):
    return len(self.labels)


@dataclasses.dataclass(frozen=True)
class Dataset:
  name: str
  source: str  # where the arrays came from, for the run's records.
  train: Split
  test: Split
  validation: Optional[Split]
  num_classes: int
  mean: tuple  # per channel, in [0, 1] pixel units.
  std: tuple

  @property
  def image_shape(self):
    return self.train.images.shape[1:]


@dataclasses.dataclass(frozen=True)
class _Spec:
  num_classes: int
  mean: tuple
  std: tuple
  tfds_name: Optional[str] = None
  idx_md5: Optional[dict] = None  # MD5 of each decompressed IDX file.
  classes: Optional[tuple] = None  # class folder names, in label order.
  image_shape: Optional[tuple] = None  # [H, W, C]; None: read from the files.
  coarse_classes: int = 0  # classes of dataset.labels='coarse' (CIFAR-100: 20)


SPECS = {
    'mnist': _Spec(10, (0.1307,), (0.3081,), 'mnist', image_shape=(28, 28, 1), idx_md5={
        'train-images-idx3-ubyte': '6bbc9ace898e44ae57da46a324031adb',
        'train-labels-idx1-ubyte': 'a25bea736e30d166cdddb491f175f624',
        't10k-images-idx3-ubyte': '2646ac647ad5339dbf082846283269ea',
        't10k-labels-idx1-ubyte': '27ae3e4e09519cfbb04c329615203637',
    }),
    'fashion_mnist': _Spec(10, (0.2860,), (0.3530,), 'fashion_mnist',
                           image_shape=(28, 28, 1)),
    'digits': _Spec(10, (0.3053,), (0.3759,), image_shape=(8, 8, 1)),
    'cifar10': _Spec(10, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010),
                     'cifar10', image_shape=(32, 32, 3), classes=(
                         'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                         'frog', 'horse', 'ship', 'truck')),
    # Fine labels are the class folders' sorted names (apple=0 ... worm=99);
    # RepDistiller's and mdistiller's normalisation.
    'cifar100': _Spec(100, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761),
                      'cifar100', image_shape=(32, 32, 3), coarse_classes=20),
    # Any train/<class>/ + test/<class>/ tree; classes counted from the files.
    'image_folder': _Spec(0, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
}


def _digits():
  """scikit-learn's 1,797 8x8 digits (values 0..16), a fixed 1437/360 split."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  order = np.random.default_rng(0).permutation(len(images))
  images, labels = images[order], digits.target[order].astype(np.int32)
  return (images[:-360], labels[:-360]), (images[-360:], labels[-360:])


def _load_arrays(config, spec):
  name, source, data_dir = config.name, config.source, config.data_dir
  if name == 'digits' or source == 'sklearn':
    if name != 'digits':
      raise errors.ConfigError(
          f"dataset.source='sklearn' serves only dataset.name='digits', not {name!r}")
    return _digits(), 'sklearn.datasets.load_digits'
  if data_dir and not os.path.isdir(data_dir):
    raise errors.DataError(
        f'dataset.data_dir={data_dir!r} is not a directory; expected the '
        f'folder holding {name} (IDX files or a TFDS data_dir)')
  cifar100 = name == 'cifar100'
  coarse = cifar100 and config.get('labels') == 'coarse'
  names = image_files.CIFAR100_PYTHON if cifar100 else image_files.CIFAR_PYTHON
  path = image_files.find_cifar_python(data_dir, names)
  folder = image_files.find_image_folder(data_dir)
  if source == 'cifar_python' or (source == 'auto' and path):
    if path is None:
      raise errors.DataError(
          f'dataset.data_dir={data_dir!r} holds neither of {names}; expected '
          f'{"CIFAR-100" if cifar100 else "CIFAR-10"} python files')
    if cifar100:
      splits = image_files.load_cifar100_python(path, config.labels)
    else:
      splits = image_files.load_cifar_python(path)
    return (splits['train'], splits['test']), f'cifar_python:{path}' + (
        ':coarse' if coarse else '')
  if source == 'image_folder' or (source == 'auto' and folder):
    if folder is None:
      raise errors.DataError(
          f'dataset.data_dir={data_dir!r} holds no train/<class>/ folder and not '
          'exactly one .tar/.tar.gz of one; expected an image-folder tree')
    if coarse:
      raise errors.ConfigError(
          "dataset.labels='coarse' needs CIFAR-100's python files or TFDS (an image "
          'folder holds one label per folder); expected the fine labels here')
    splits, _ = image_files.load_image_folder(folder, spec.classes)
    found = len(np.unique(splits['train'][1]))  # labels: the sorted class folders
    if spec.num_classes and found != spec.num_classes:
      raise errors.DataError(
          f'{folder}: {found} class folders; expected the {spec.num_classes} '
          f'classes of {name}')
    return (splits['train'], splits['test']), f'image_folder:{folder}'
  if source == 'idx' or (source == 'auto' and idx.has_idx_files(data_dir)):
    if not data_dir:
      raise errors.ConfigError(
          "dataset.source='idx' needs dataset.data_dir: the folder with the IDX files")
    splits = tuple(idx.load_split(data_dir, s, spec.idx_md5)
                   for s in ('train', 'test'))
    return splits, f'idx:{data_dir}'
  tfds_name = spec.tfds_name or name
  splits = tuple(tfds_source.load_split(tfds_name, s, data_dir, config.download,
                                        'coarse_label' if coarse else 'label')
                 for s in ('train', 'test'))
  return splits, f'tfds:{tfds_name}:{data_dir or "default"}' + (':coarse' if coarse else '')


def _spec(name) -> _Spec:
  if name not in SPECS:
    raise errors.ConfigError(
        f'dataset.name={name!r} is unknown; expected one of {sorted(SPECS)}')
  return SPECS[name]


def _subset(images, labels, size):
  """A fixed random `size` examples (all if 0), the same in every run: files
  are often sorted by class, so the first N would miss classes."""
  if not size or size >= len(labels):
    return images, labels
  keep = np.sort(np.random.default_rng(4321).permutation(len(labels))[:size])
  return images[keep], labels[keep]


def fingerprint(split: Split) -> str:
  """SHA-256 (first 16 hex digits) of a split's labels and images: equal iff
  the same examples in the same order, wherever the files were read from."""
  digest = hashlib.sha256(np.ascontiguousarray(split.labels, np.int32).tobytes())
  digest.update(np.ascontiguousarray(split.images).tobytes())
  return digest.hexdigest()[:16]


def num_classes(config) -> int:
  """Number of classes of the data set `config` (a `config.dataset`) names.

  Known for named data sets; an 'image_folder' data set is loaded (cached)
  to count its class folders.
  """
  spec = _spec(config.name)
  if spec.coarse_classes and config.get('labels') == 'coarse':
    return spec.coarse_classes
  return spec.num_classes or load(config).num_classes


def image_shape(config) -> tuple:
  """[H, W, C] of the images of the data set `config` (a `config.dataset`)
  names; an 'image_folder' data set is loaded (cached) to read it."""
  return tuple(_spec(config.name).image_shape or load(config).image_shape)


def load(config) -> Dataset:
  """Loads the data set a `config.dataset` names, with its held-out split."""
  spec = _spec(config.name)
  ((train_x, train_y), (test_x, test_y)), source = _load_arrays(config, spec)
  validation = None
  if config.validation_size:
    if not 0 < config.validation_size < len(train_y):
      raise errors.ConfigError(
          f'dataset.validation_size={config.validation_size} is invalid; '
          f'expected 0 or a number below the {len(train_y)} training examples')
    # A fixed, seed-independent hold-out so every run validates on the same set.
    order = np.random.default_rng(1234).permutation(len(train_y))
    held, kept = order[:config.validation_size], np.sort(order[config.validation_size:])
    validation = Split(train_x[held], train_y[held])
    train_x, train_y = train_x[kept], train_y[kept]
  train_x, train_y = _subset(train_x, train_y, config.train_subset)
  test_x, test_y = _subset(test_x, test_y, config.test_subset)
  classes = num_classes(config) if spec.num_classes else int(train_y.max()) + 1
  _check(source, train_x, train_y, test_x, test_y, classes, config.translate)
  return Dataset(
      name=config.name, source=source, train=Split(train_x, train_y),
      test=Split(test_x, test_y), validation=validation,
      num_classes=classes, mean=spec.mean, std=spec.std)


def _check(source, train_x, train_y, test_x, test_y, classes, translate):
  """Refuses data that cannot be what the run means (shapes, labels)."""
  shape = train_x.shape[1:]
  if len(shape) != 3 or min(shape) < 1 or len(train_y) < 1 or len(test_y) < 1:
    raise errors.DataError(f'{source}: images of shape {train_x.shape} ({len(test_y)}'
                           ' test); expected [N >= 1, H >= 1, W >= 1, C >= 1]')
  if test_x.shape[1:] != shape:
    raise errors.DataError(f'{source}: train images are {shape}, test images '
                           f'{test_x.shape[1:]}; expected one shape')
  for split, labels in (('train', train_y), ('test', test_y)):
    if labels.min() < 0 or labels.max() >= classes:
      raise errors.DataError(f'{source}: {split} labels span [{labels.min()}, '
                             f'{labels.max()}]; expected [0, {classes})')
  if translate >= min(shape[:2]):
    raise errors.ConfigError(f'dataset.translate={translate} is invalid; expected '
                             f'fewer pixels than the {shape[0]}x{shape[1]} images')
