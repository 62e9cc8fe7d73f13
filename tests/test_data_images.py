"""CIFAR-10 python archives and image folders (kdjax.data.images)."""

import io
import os
import pickle
import re
import tarfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import data
from kdjax import errors
from kdjax.data import augment
from kdjax.data import images
from tests.conftest import CIFAR_CLASSES, SHARED_CIFAR, write_cifar100_python, write_image_folder


def cifar_config(data_dir, **kwargs):
  config = config_lib.cifar10_cnn().dataset
  config.update(data_dir=data_dir, **kwargs)
  return config


def make_tar(folder, path):
  with tarfile.open(path, 'w:gz') as tar:
    tar.add(folder, arcname='cifar10')
  return path


def test_image_folder_directory(tmp_path):
  root = write_image_folder(str(tmp_path / 'imgs'))
  ds = data.load(cifar_config(root))
  assert ds.train.images.shape == (30, 32, 32, 3) and ds.train.images.dtype == np.uint8
  assert ds.test.images.shape == (20, 32, 32, 3)
  np.testing.assert_array_equal(np.bincount(ds.train.labels), [3] * 10)
  assert ds.source.startswith('image_folder:')
  cached = os.listdir(images.cache_dir())
  assert len(cached) == 1 and cached[0].endswith('.npz')
  again = data.load(cifar_config(root))  # from the cache
  np.testing.assert_array_equal(again.train.images, ds.train.images)


def test_labels_follow_sorted_class_folders(tmp_path):
  from PIL import Image
  root = str(tmp_path / 'imgs')
  for split in ('train', 'test'):
    for value, cls in enumerate(('b_cls', 'a_cls')):
      os.makedirs(os.path.join(root, split, cls))
      Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(
          os.path.join(root, split, cls, 'x.png'))
  config = cifar_config(root, name='image_folder')
  ds = data.load(config)
  assert data.num_classes(config) == 2
  # 'a_cls' (pixel value 1) is label 0, 'b_cls' (value 0) is label 1.
  for image, label in zip(ds.train.images, ds.train.labels):
    assert image[0, 0, 0] == 1 - label


def test_image_folder_archive(tmp_path):
  folder = write_image_folder(str(tmp_path / 'imgs'), suffix='.jpg')
  os.makedirs(tmp_path / 'data')
  make_tar(folder, str(tmp_path / 'data' / 'cifar10-jpeg.tar.gz'))
  ds = data.load(cifar_config(str(tmp_path / 'data')))
  assert ds.train.images.shape == (30, 32, 32, 3) and len(ds.test) == 20


def test_corrupt_archive(tmp_path):
  folder = write_image_folder(str(tmp_path / 'imgs'))
  os.makedirs(tmp_path / 'data')
  path = make_tar(folder, str(tmp_path / 'data' / 'x.tar.gz'))
  raw = open(path, 'rb').read()
  with open(path, 'wb') as f:
    f.write(raw[: len(raw) // 2])
  with pytest.raises(errors.DataError, match='corrupt or truncated archive'):
    data.load(cifar_config(str(tmp_path / 'data')))


def _plain_tar(tmp_path):
  """An image-folder .tar of 8 train and 12 test images, its bytes, its
  last member and the offset of its end-of-archive blocks."""
  folder = write_image_folder(str(tmp_path / 'imgs'), classes=CIFAR_CLASSES[:4],
                              per_class=(2, 3))
  path = str(tmp_path / 'data' / 'x.tar')
  os.makedirs(tmp_path / 'data')
  with tarfile.open(path, 'w') as tar:
    tar.add(folder, arcname='cifar10')
  with tarfile.open(path) as tar:
    members, end = tar.getmembers(), tar.offset
  return path, open(path, 'rb').read(), members[-1], end


@pytest.mark.parametrize('cut,says', [
    # inside the last member's header: read as 7 of the 8 train images before
    (lambda last, end: last.offset + 100, r'no end-of-archive blocks at byte \d+ \(after '
     r"member 'cifar10/train/\w+/0000.png'\)"),
    (lambda last, end: last.offset, 'no end-of-archive blocks'),  # at a header
    (lambda last, end: last.offset_data + 10,
     r"the data of member 'cifar10/train/\w+/0001.png' ends at byte \d+, the file at byte \d+"),
    (lambda last, end: end + 512, 'no end-of-archive blocks'),  # one zero block of two
], ids=['in_a_header', 'at_a_header', 'in_data', 'in_the_end_blocks'])
def test_truncated_plain_tar(tmp_path, cut, says):
  """Issue 26, item 5: a cut .tar was read as a smaller data set (exit 0)."""
  path, raw, last, end = _plain_tar(tmp_path)
  config = cifar_config(str(tmp_path / 'data'), name='image_folder', source='image_folder')
  ds = data.load(config)
  assert (len(ds.train), len(ds.test)) == (8, 12) and last.name.endswith('.png')
  with open(path, 'wb') as f:
    f.write(raw[:cut(last, end)])
  with pytest.raises(errors.DataError, match=f'^{re.escape(path)}: truncated archive: {says}'):
    data.load(config)
  with open(path, 'wb') as f:
    f.write(raw[:end + 1024])  # the end-of-archive blocks without the padding
  assert len(list(images._files(path))) == 20


def test_missing_class(tmp_path):
  root = write_image_folder(str(tmp_path / 'imgs'), classes=CIFAR_CLASSES[:-1])
  with pytest.raises(errors.DataError, match=r"missing \['truck'\]"):
    data.load(cifar_config(root))


def test_test_split_lacks_a_class(tmp_path):
  root = write_image_folder(str(tmp_path / 'imgs'))
  for name in os.listdir(os.path.join(root, 'test', 'cat')):
    os.remove(os.path.join(root, 'test', 'cat', name))
  os.rmdir(os.path.join(root, 'test', 'cat'))
  with pytest.raises(errors.DataError, match=r"differ in classes \['cat'\]"):
    data.load(cifar_config(root))


def test_no_images(tmp_path):
  os.makedirs(tmp_path / 'imgs' / 'train' / 'cat')
  with pytest.raises(errors.DataError, match='has no images under train/'):
    data.load(cifar_config(str(tmp_path / 'imgs'), source='image_folder'))


def test_unreadable_image(tmp_path):
  root = write_image_folder(str(tmp_path / 'imgs'))
  with open(os.path.join(root, 'train', 'dog', '0001.png'), 'wb') as f:
    f.write(b'not a png')
  with pytest.raises(errors.DataError, match=r'train/dog/0001.png: not a readable image'):
    data.load(cifar_config(root))


def write_cifar_python(path, n=4, drop=None):
  rng = np.random.default_rng(0)
  with tarfile.open(path, 'w:gz') as tar:
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
      if name == drop:
        continue
      batch = {b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
               b'labels': list(rng.integers(0, 10, n))}
      raw = pickle.dumps(batch)
      info = tarfile.TarInfo(f'cifar-10-batches-py/{name}')
      info.size = len(raw)
      tar.addfile(info, io.BytesIO(raw))
  return path


def test_cifar_python_archive(tmp_path):
  path = write_cifar_python(str(tmp_path / 'cifar-10-python.tar.gz'))
  ds = data.load(cifar_config(str(tmp_path)))
  assert ds.train.images.shape == (20, 32, 32, 3) and len(ds.test) == 4
  # Rows are CHW-major: pixel (0, 1) of image 0 is data[0][1], data[0][1025], ...
  with tarfile.open(path) as tar:
    raw = pickle.loads(tar.extractfile('cifar-10-batches-py/data_batch_1').read())
  np.testing.assert_array_equal(ds.train.images[0, 0, 1],
                                raw[b'data'][0][[1, 1025, 2049]])


def test_cifar_python_missing_batch(tmp_path):
  write_cifar_python(str(tmp_path / 'cifar-10-python.tar.gz'), drop='data_batch_3')
  with pytest.raises(errors.DataError, match=r"lacks \['data_batch_3'\]"):
    data.load(cifar_config(str(tmp_path)))


def cifar100_config(data_dir, **kwargs):
  config = cifar_config(data_dir, name='cifar100')
  config.update(**kwargs)
  return config


def test_cifar100_python_fine_and_coarse_labels(tmp_path):
  path = write_cifar100_python(str(tmp_path / 'cifar-100-python.tar.gz'))
  with tarfile.open(path) as tar:
    raw = pickle.loads(tar.extractfile('cifar-100-python/train').read())
  fine = data.load(cifar100_config(str(tmp_path)))
  assert fine.num_classes == 100 and fine.train.images.shape == (30, 32, 32, 3)
  assert len(fine.test) == 10 and fine.mean == (0.5071, 0.4867, 0.4408)
  np.testing.assert_array_equal(fine.train.labels, raw[b'fine_labels'])
  np.testing.assert_array_equal(fine.train.images[0, 0, 1], raw[b'data'][0][[1, 1025, 2049]])
  coarse = data.load(cifar100_config(str(tmp_path), labels='coarse'))
  assert coarse.num_classes == 20 and coarse.source.endswith(':coarse')
  np.testing.assert_array_equal(coarse.train.labels, raw[b'coarse_labels'])
  np.testing.assert_array_equal(coarse.train.images, fine.train.images)
  assert data.num_classes(cifar100_config('', labels='coarse')) == 20
  assert data.fingerprint(coarse.test) != data.fingerprint(fine.test)  # other labels


def test_cifar100_refusals(tmp_path):
  write_cifar100_python(str(tmp_path / 'cifar-100-python.tar.gz'), drop='test')
  with pytest.raises(errors.DataError, match=r"lacks \['test'\]"):
    data.load(cifar100_config(str(tmp_path)))
  config = config_lib.get_base_config()
  config.dataset.labels = 'coarse'  # mnist has no coarse labels
  with pytest.raises(errors.ConfigError, match="dataset.labels='coarse'"):
    config_lib.validate(config)
  folder = write_image_folder(str(tmp_path / 'folder'), per_class=(1, 1))  # 10 classes
  with pytest.raises(errors.DataError, match='10 class folders; expected the 100'):
    data.load(cifar100_config(folder))
  with pytest.raises(errors.ConfigError, match='needs CIFAR-100.s python files'):
    data.load(cifar100_config(folder, labels='coarse'))


def test_cifar100_image_folder_labels_are_the_sorted_fine_names(tmp_path):
  names = [f'class_{i:03d}' for i in range(100)]
  folder = write_image_folder(str(tmp_path / 'folder'), classes=names[::-1], per_class=(1, 1))
  ds = data.load(cifar100_config(folder))
  assert ds.num_classes == 100 and sorted(ds.train.labels.tolist()) == list(range(100))


def test_real_cifar10_jpeg():
  if not os.path.exists(SHARED_CIFAR):
    pytest.skip(f'{SHARED_CIFAR} not found')
  ds = data.load(cifar_config(os.path.dirname(SHARED_CIFAR)))
  assert ds.train.images.shape == (50000, 32, 32, 3) and len(ds.test) == 10000
  np.testing.assert_array_equal(np.bincount(ds.test.labels), [1000] * 10)
  mean = ds.train.images.reshape(-1, 3).mean(0) / 255
  np.testing.assert_allclose(mean, (0.4914, 0.4822, 0.4465), atol=2e-3)


def test_flip_mirrors_about_half_and_is_deterministic():
  imgs = jnp.tile(jnp.arange(4, dtype=jnp.uint8).reshape(1, 1, 4, 1), (400, 2, 1, 3))
  out = np.asarray(augment.augment(jax.random.PRNGKey(0), imgs, translate=0, flip=True))
  flipped = (out[:, 0, 0, 0] == 3)
  assert 150 < flipped.sum() < 250
  np.testing.assert_array_equal(out[flipped][0, :, :, 0], [[3, 2, 1, 0]] * 2)
  np.testing.assert_array_equal(out, augment.augment(jax.random.PRNGKey(0), imgs, translate=0, flip=True))


def test_crop_with_padding_keeps_shape():
  imgs = jnp.ones((8, 32, 32, 3), jnp.uint8)
  out = augment.augment(jax.random.PRNGKey(1), imgs, translate=4, flip=True)
  assert out.shape == imgs.shape and out.dtype == imgs.dtype
  assert int(out.sum()) < int(imgs.sum())  # zero padding came in somewhere
