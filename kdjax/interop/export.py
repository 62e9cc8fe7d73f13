"""A finished run's student as PyTorch state_dicts (`python -m kdjax.export`)."""

import contextlib
import importlib.util
import io
import json
import logging as std_logging
import os

import jax
import jax.numpy as jnp
import numpy as np

from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import methods
from kdjax import models
from kdjax import outputs
from kdjax import train
from kdjax import workdir as workdir_lib
from kdjax.interop import layouts
from kdjax.interop import state_dict

FORMATS = {'safetensors': 'student.safetensors', 'pt': 'student.pt', 'onnx': 'student.onnx'}
ONNX_CHECK_IMAGES = 512  # test images ONNX Runtime's logits are compared on


def export_run(workdir: str, out: str, formats=('safetensors', 'pt'), layout: str = '',
               data_dir: str = '') -> dict:
  """Writes the student of the finished run in `workdir` to `out`; returns
  export.json. `data_dir`: where the run's test set is read for the ONNX
  check (default: the run's own dataset.data_dir)."""
  for name in formats:
    if name not in FORMATS:
      raise errors.ConfigError(f'--formats has {name!r}; expected some of {list(FORMATS)}')
  needs = {'pt': (('torch',), 'pip install torch'),
           'onnx': (('jax2onnx', 'onnxruntime'), "pip install -e '.[onnx]'")}
  for name in formats:  # before anything is written
    modules, install = needs.get(name, ((), ''))
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
      raise errors.ConfigError(f'--formats={name} needs {" and ".join(missing)} ({install}); '
                               'expected it installed, or other formats')
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise errors.ConfigError(f'--workdir={workdir!r} has no config.json; expected a kdjax run')
  if workdir_lib.finished_steps(workdir) is None:
    raise errors.ConfigError(f'--workdir={workdir!r} is not a finished run (no metrics.json '
                             'of a finished run); expected one that finished training')
  targets = [os.path.join(out, FORMATS[name]) for name in formats]
  targets.append(os.path.join(out, 'export.json'))
  existing = [t for t in targets if os.path.exists(t)]
  if existing:
    raise errors.ConfigError(f'{existing[0]} exists; expected a new --out (an export '
                             'never overwrites)')
  config = config_lib.from_json(outputs.read_json(path))
  if data_dir:
    config.dataset.data_dir = data_dir
  model = models.create(config.model, data_lib.num_classes(config.dataset))
  image_shape = data_lib.image_shape(config.dataset)
  torch_formats = [name for name in formats if name != 'onnx']
  tensors, template = (layouts.of_model(config.model.name, layout, model, image_shape)
                       if torch_formats else (None, None))
  test = data_lib.load(config.dataset) if 'onnx' in formats else None  # before any write
  variables, step = train.restore_run(config, workdir, model, image_shape)
  variables = jax.device_get(train.student_variables(
      methods.get(config.method), config, variables, {}))
  record = {'run': os.path.basename(os.path.abspath(workdir)), 'step': step,
            'model': json.loads(config.model.to_json()), 'image_shape': list(image_shape),
            'params_sha256': models.fingerprint(variables['params']),
            'variables_sha256': models.fingerprint(variables), 'files': {}}
  if torch_formats:
    record['layout'] = layouts.resolve(config.model.name, layout, model)
    state = state_dict.from_variables(variables, tensors)
  written = []
  try:
    for name in formats:
      target = os.path.join(out, FORMATS[name])
      if name == 'onnx':
        record['onnx'] = write_onnx(target, model, variables, test)
      else:
        state_dict.write(target, state)
      written.append(target)
      if name != 'onnx':
        back = state_dict.to_variables(state_dict.read(target), tensors, template, target)
        if models.fingerprint(back) != record['variables_sha256']:
          raise errors.CheckpointError(f'{target}: reading the export back does not give '
                                       "the run's variables")
      record['files'][FORMATS[name]] = outputs.file_sha256(target)
    outputs.write_json(targets[-1], record)
  except BaseException:
    for target in written:  # no half-made export: only what this call wrote
      os.remove(target)
    raise
  return record


def summary(record: dict) -> str:
  """One line of what `export_run` wrote (its export.json `record`)."""
  said = [f'step {record["step"]}']
  if 'layout' in record:
    said.append(f'{record["layout"]} layout, state_dicts read back bit for bit')
  if 'onnx' in record:
    said.append(f'ONNX Runtime within {record["onnx"]["max_abs_logit_difference"]:.2g} of '
                f'kdjax on {record["onnx"]["checked_images"]} test images')
  return f'{", ".join(record["files"])} ({"; ".join(said)})'


def write_onnx(path: str, model, variables, data) -> dict:
  """Writes `model` with `variables` as ONNX (jax2onnx; input [B, C, H, W]
  float32, standardised as for training: (pixels / 255 - mean) / std,
  output logits [B, classes]) and checks it: ONNX Runtime's logits on the
  first `ONNX_CHECK_IMAGES` test images against kdjax's. Returns the check."""
  # Its plugins for other libraries (dm_pix) fail to import under this JAX and
  # log a traceback each, and onnx_ir logs untyped constants it skips; kdjax's
  # graphs use neither.
  for name in ('jax2onnx.plugins.plugin_system', 'onnx_ir'):  # and onnx_ir's notes
    std_logging.getLogger(name).setLevel(std_logging.ERROR)
  try:
    import jax2onnx  # pylint: disable=g-import-not-at-top
    import onnxruntime  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.ConfigError("--formats=onnx needs jax2onnx and onnxruntime (pip install -e "
                             "'.[onnx]'); expected them installed") from None
  images = data.test.images[:ONNX_CHECK_IMAGES].astype(np.float32) / 255.0
  images = (images - np.asarray(data.mean, np.float32)) / np.asarray(data.std, np.float32)
  forward = jax.jit(lambda x: model.apply(variables, x))
  h, w, c = data.image_shape
  # NCHW in, as PyTorch users feed it: an explicit transpose in the graph.
  # The forward is traced to primitives first, with a symbolic batch: the
  # Flax-module plugins of jax2onnx (0.12.5 and 0.17.1) mixed NCHW and NHWC
  # operands in residual adds after BatchNorm (a ResNet of two blocks per
  # stage failed ONNX Runtime's shape check); the primitives convert exactly.
  batch, = jax.export.symbolic_shape('B')
  traced = jax.make_jaxpr(lambda x: model.apply(variables, x.transpose(0, 2, 3, 1)))(
      jax.ShapeDtypeStruct((batch, c, h, w), jnp.float32))
  nchw = lambda x: jax.core.eval_jaxpr(traced.jaxpr, traced.consts, x)[0]
  with contextlib.redirect_stdout(io.StringIO()):  # jax2onnx prints its trace
    try:
      proto = jax2onnx.to_onnx(nchw, [('B', c, h, w)], model_name='student',
                               input_names=['images'], output_names=['logits'])
    except Exception as e:  # pylint: disable=broad-except
      raise errors.ConfigError(f'{path}: jax2onnx cannot export this model '
                               f'({" ".join(str(e).split())[:300]})') from None
  blob = proto.SerializeToString()
  options = onnxruntime.SessionOptions()
  options.log_severity_level = 3  # its shape-merge warnings are not errors
  try:
    session = onnxruntime.InferenceSession(blob, options, providers=['CPUExecutionProvider'])
    got = session.run(None, {'images': images.transpose(0, 3, 1, 2)})[0]
  except Exception as e:  # pylint: disable=broad-except
    raise errors.CheckpointError(f'{path}: ONNX Runtime cannot run the exported graph '
                                 f'({" ".join(str(e).split())[:300]}); not written') from None
  expected = np.asarray(forward(images))
  difference = float(np.abs(got - expected).max())
  scale = float(np.abs(expected).max())
  if not difference <= 1e-4 * scale:
    raise errors.CheckpointError(f'{path}: ONNX Runtime\'s logits differ from kdjax\'s by '
                                 f'{difference:.3g} (largest logit {scale:.3g}); not written')
  outputs.write_with(path, lambda f: f.write(blob))
  return {'input': ['B', c, h, w],
          'mean': list(data.mean), 'std': list(data.std), 'checked_images': len(images),
          'max_abs_logit_difference': difference, 'max_abs_logit': scale,
          'onnxruntime': onnxruntime.__version__}
