"""Data sources (IDX, TFDS, scikit-learn) and on-device augmentation."""

import gzip
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import data
from kdjax import errors
from kdjax.data import augment
from kdjax.data import idx
from tests.conftest import idx_bytes


def dataset_config(**kwargs):
  config = config_lib.get_base_config().dataset
  config.update(kwargs)
  return config


def test_idx_dir_loads(idx_dir):
  ds = data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir))
  assert ds.train.images.shape == (64, 28, 28, 1)
  assert ds.train.images.dtype == np.uint8
  assert ds.test.labels.dtype == np.int32 and len(ds.test) == 32
  assert ds.source.startswith('idx:')


def test_idx_round_trip_and_uncompressed(tmp_path):
  array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  np.testing.assert_array_equal(idx.parse(idx_bytes(array), 'x', 3), array)


def test_validation_split_is_held_out(idx_dir):
  ds = data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir,
                                validation_size=10))
  assert len(ds.validation) == 10 and len(ds.train) == 54
  train_rows = {row.tobytes() for row in ds.train.images}
  assert not any(row.tobytes() in train_rows for row in ds.validation.images)


def test_missing_data_dir():
  with pytest.raises(errors.DataError, match="data_dir='/nonexistent/mnist'"):
    data.load(dataset_config(data_dir='/nonexistent/mnist'))


def test_missing_file(idx_dir):
  os.remove(os.path.join(idx_dir, 't10k-labels-idx1-ubyte.gz'))
  with pytest.raises(errors.DataError, match='t10k-labels-idx1-ubyte'):
    data.load(dataset_config(name='fashion_mnist', source='idx', data_dir=idx_dir))


def test_wrong_magic(idx_dir):
  with gzip.open(os.path.join(idx_dir, 'train-labels-idx1-ubyte.gz'), 'wb') as f:
    f.write(b'\x00\x00\x08\x03' + b'\x00' * 20)
  with pytest.raises(errors.DataError, match='magic number is 0x00000803; expected 0x00000801'):
    data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir))


def test_truncated_file(idx_dir):
  path = os.path.join(idx_dir, 'train-images-idx3-ubyte.gz')
  with gzip.open(path) as f:
    raw = f.read()
  with gzip.open(path, 'wb') as f:
    f.write(raw[:-100])
  with pytest.raises(errors.DataError, match='truncated or corrupt'):
    data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir))


def test_corrupt_gzip(idx_dir):
  path = os.path.join(idx_dir, 'train-images-idx3-ubyte.gz')
  with open(path, 'rb') as f:
    raw = f.read()
  with open(path, 'wb') as f:
    f.write(raw[: len(raw) // 2])  # a cut-off download
  with pytest.raises(errors.DataError, match='cannot be read'):
    data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir))


def test_mnist_md5_is_enforced(idx_dir):
  # Structurally valid files that are not the canonical MNIST bytes.
  with pytest.raises(errors.DataError, match='MD5 of the decompressed bytes'):
    data.load(dataset_config(name='mnist', data_dir=idx_dir))


def test_real_mnist(shared_mnist):
  ds = data.load(dataset_config(name='mnist', data_dir=shared_mnist))
  assert ds.train.images.shape == (60000, 28, 28, 1)
  assert ds.test.images.shape == (10000, 28, 28, 1)
  assert np.bincount(ds.test.labels).tolist()[:3] == [980, 1135, 1032]


def test_digits_are_embedded():
  ds = data.load(dataset_config(name='digits'))
  assert ds.train.images.shape == (1437, 8, 8, 1) and len(ds.test) == 360
  assert ds.train.images.max() == 255
  assert set(np.unique(ds.test.labels)) == set(range(10))


def test_unknown_dataset():
  with pytest.raises(errors.ConfigError, match="dataset.name='imagenet21k'"):
    data.load(dataset_config(name='imagenet21k'))


def test_tfds_data_dir_without_tensorflow(tmp_path):
  """A TF-free builder prepares array_record data that the loader reads."""
  tfds = pytest.importorskip('tensorflow_datasets')

  class KdjaxTestDigits(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version('1.0.0')

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          'image': tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
          'label': tfds.features.ClassLabel(num_classes=10)}))

    def _split_generators(self, dl_manager):
      return {'train': self._generate_examples(30), 'test': self._generate_examples(12)}

    def _generate_examples(self, n):
      for i in range(n):
        yield i, {'image': np.full((8, 8, 1), i, np.uint8), 'label': i % 10}

  KdjaxTestDigits(data_dir=str(tmp_path), file_format='array_record').download_and_prepare()
  from kdjax.data import tfds_source
  images, labels = tfds_source.load_split('kdjax_test_digits', 'test', str(tmp_path), False)
  assert images.shape == (12, 8, 8, 1) and images.dtype == np.uint8
  # TFDS stores examples in hashed-key order: check the pairs, not the order.
  np.testing.assert_array_equal(np.sort(images[:, 0, 0, 0]), np.arange(12))
  np.testing.assert_array_equal(labels, images[:, 0, 0, 0] % 10)


def test_tfds_coarse_labels_read_their_own_feature(tmp_path):
  """CIFAR-100's TFDS builder has 'label' (fine) and 'coarse_label'; the
  loader reads the one dataset.labels names (a TF-free stand-in builder)."""
  tfds = pytest.importorskip('tensorflow_datasets')

  class KdjaxTestHundred(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version('1.0.0')

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          'image': tfds.features.Tensor(shape=(4, 4, 3), dtype=np.uint8),
          'label': tfds.features.ClassLabel(num_classes=100),
          'coarse_label': tfds.features.ClassLabel(num_classes=20)}))

    def _split_generators(self, dl_manager):
      return {'train': self._generate_examples(8), 'test': self._generate_examples(6)}

    def _generate_examples(self, n):
      for i in range(n):
        yield i, {'image': np.full((4, 4, 3), i, np.uint8), 'label': 7 * i,
                  'coarse_label': i}

  KdjaxTestHundred(data_dir=str(tmp_path), file_format='array_record').download_and_prepare()
  from kdjax.data import tfds_source
  for key, factor in (('label', 7), ('coarse_label', 1)):
    images, labels = tfds_source.load_split('kdjax_test_hundred', 'test', str(tmp_path),
                                            False, key)
    np.testing.assert_array_equal(labels, factor * images[:, 0, 0, 0])


def test_tfds_not_prepared_is_one_line(tmp_path):
  pytest.importorskip('tensorflow_datasets')
  with pytest.raises(errors.DataError, match="no prepared TFDS 'mnist'"):
    data.load(dataset_config(name='mnist', source='tfds', data_dir=str(tmp_path)))


def test_translate_shifts_and_zero_fills():
  images = jnp.arange(1, 26, dtype=jnp.float32).reshape(1, 5, 5, 1)
  images = jnp.tile(images, (200, 1, 1, 1))
  out = augment.augment(jax.random.PRNGKey(0), images, translate=2, flip=False)
  assert out.shape == images.shape
  seen = set()
  for img in np.asarray(out[..., 0]):
    # Each output is the input shifted by (dy, dx) in [-2, 2]^2 with zeros.
    matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
               if np.array_equal(img, shift(np.asarray(images[0, ..., 0]), dy, dx))]
    assert len(matches) == 1
    seen.add(matches[0])
  assert len(seen) == 25  # every shift occurs


def shift(img, dy, dx):
  out = np.zeros_like(img)
  h, w = img.shape
  out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
      img[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
  return out


def test_translate_is_deterministic_per_key():
  images = jax.random.uniform(jax.random.PRNGKey(1), (16, 28, 28, 1))
  a = augment.augment(jax.random.PRNGKey(3), images, translate=2, flip=False)
  b = augment.augment(jax.random.PRNGKey(3), images, translate=2, flip=False)
  c = augment.augment(jax.random.PRNGKey(4), images, translate=2, flip=False)
  assert jnp.array_equal(a, b) and not jnp.array_equal(a, c)
  assert augment.augment(jax.random.PRNGKey(3), images, translate=0, flip=False) is images


def test_to_float_standardises():
  x = augment.to_float(jnp.array([[[[0]], [[255]]]], jnp.uint8), (0.5,), (0.25,))
  np.testing.assert_allclose(np.asarray(x).ravel(), [-2.0, 2.0])


def test_subsets_are_fixed_random_samples(idx_dir):
  full = data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir))
  sub = data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir,
                                 train_subset=20, test_subset=8))
  assert len(sub.train) == 20 and len(sub.test) == 8
  rows = [r.tobytes() for r in full.train.images]
  picked = sorted(rows.index(r.tobytes()) for r in sub.train.images)
  assert picked != list(range(20))  # not simply the first 20 (files sort by class)
  again = data.load(dataset_config(name='fashion_mnist', data_dir=idx_dir,
                                   train_subset=20, test_subset=8))
  np.testing.assert_array_equal(again.train.images, sub.train.images)
