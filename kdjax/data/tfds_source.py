"""TFDS as a source: a prepared data_dir (read TF-free) or a download."""

import numpy as np

from kdjax import errors


def _builder(name, data_dir, download):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  where = data_dir or '~/tensorflow_datasets'
  try:
    builder = tfds.builder(name, data_dir=data_dir or None)
  except tfds.core.registered.DatasetNotFoundError:
    raise errors.DataError(
        f'TFDS has no data set named {name!r}; expected a TFDS name such as '
        "'mnist'") from None
  if builder.is_prepared():
    return builder
  if not download:
    raise errors.DataError(
        f'no prepared TFDS {name!r} in {where}; expected a TFDS data_dir '
        '(dataset.data_dir), IDX files there, or dataset.download=True '
        'where the network is reachable')
  try:
    builder.download_and_prepare(file_format='array_record')
  except ImportError as e:
    raise errors.DataError(
        f"preparing TFDS {name!r} needs TensorFlow ({e}): pip install "
        "'kdjax[tf]', or use the data set's files on disk") from None
  except OSError as e:
    raise errors.DataError(
        f'downloading TFDS {name!r} failed ({type(e).__name__}); expected '
        'network access, or a prepared dataset.data_dir') from None
  return builder


def load_split(name, split, data_dir, download, label_key='label'):
  """(images uint8 [N, H, W, C], labels int32 [N]) of a TFDS split; the
  labels are the feature `label_key` (CIFAR-100's coarse: 'coarse_label').

  Reads array_record data through `tfds.data_source` (no TensorFlow needed);
  a data_dir prepared as TFRecord is read with `tfds.load`, which needs
  TensorFlow (the `tf` extra).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = _builder(name, data_dir, download)
  if builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD:
    source = builder.as_data_source(split=split)
    examples = source.__getitems__(range(len(source)))
    images = np.stack([np.asarray(ex['image'], np.uint8) for ex in examples])
    labels = np.asarray([ex[label_key] for ex in examples], np.int32)
  else:
    try:
      data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    except ImportError:
      raise errors.DataError(
          f'TFDS {name!r} in {data_dir or "~/tensorflow_datasets"} is '
          "prepared as TFRecord, which needs TensorFlow: pip install "
          "'kdjax[tf]'") from None
    images, labels = data['image'], np.asarray(data[label_key], np.int32)
  if images.ndim == 3:
    images = images[..., None]
  return images, labels
