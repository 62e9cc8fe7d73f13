"""PyTorch `state_dict`s in and out: files, wrappers, and the map to Flax variables.

Files: `.safetensors` (read and written without PyTorch) and `.pt`/`.pth`/
`.bin` (`torch.save`; need torch, loaded with `weights_only=True`, so a
checkpoint cannot run code). The wrappers training scripts leave are
opened: {'state_dict': ...}, {'model': ...} (also nested, e.g. torchdistill's
{'model': {'state_dict'...}}), and the 'module.' prefix of DataParallel /
DistributedDataParallel.
"""

import os

import jax
import numpy as np

from kdjax import errors
from kdjax import outputs
from kdjax.interop import layouts

SAFETENSORS = ('.safetensors',)
TORCH = ('.pt', '.pth', '.bin')
_WRAPPERS = ('state_dict', 'model', 'model_state_dict', 'net')


def read(path: str) -> dict:
  """{key: np.ndarray} of the state_dict in `path` (a .safetensors or torch.save file)."""
  if not os.path.isfile(path):
    raise errors.CheckpointError(f'checkpoint={path!r} is not a file; expected a '
                                 'PyTorch state_dict (.pt, .pth, .bin or .safetensors)')
  if path.endswith(SAFETENSORS):
    from safetensors import numpy as st  # pylint: disable=g-import-not-at-top
    try:
      state = st.load_file(path)
    except Exception as e:  # pylint: disable=broad-except
      raise errors.CheckpointError(f'checkpoint={path!r} cannot be read as '
                                   f'safetensors ({_reason(e)})') from None
    return unwrap(state, path)
  if not path.endswith(TORCH):
    raise errors.CheckpointError(f'checkpoint={path!r}: unknown file type; expected '
                                 f'a name ending in one of {TORCH + SAFETENSORS}')
  torch = _torch(f'reading {path!r}')
  try:
    obj = torch.load(path, map_location='cpu', weights_only=True)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.CheckpointError(
        f'checkpoint={path!r} cannot be loaded with torch.load(weights_only=True) '
        f'({_reason(e)}); expected a state_dict (torch.save(model.state_dict(), ...)), '
        'not a pickled model') from None
  # float32 first: numpy has no bfloat16 (a bf16 checkpoint imports too)
  return {k: (v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()).numpy()
          if isinstance(v, torch.Tensor) else v for k, v in unwrap(obj, path).items()}


def unwrap(obj, path: str = 'checkpoint') -> dict:
  """The flat {key: tensor} inside the wrappers of a saved checkpoint."""
  while isinstance(obj, dict) and not _is_flat(obj):
    inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
    if inner is None:
      raise errors.CheckpointError(
          f'{path!r} is a dict of {sorted(map(str, obj))[:6]} without tensors; expected '
          f"a state_dict, or one under one of the keys {list(_WRAPPERS)}")
    obj = inner
  if not isinstance(obj, dict) or not obj:
    raise errors.CheckpointError(f'{path!r} holds {type(obj).__name__}, not a '
                                 'state_dict; expected {name: tensor}')
  if all(k.startswith('module.') for k in obj):
    obj = {k[len('module.'):]: v for k, v in obj.items()}
  return obj


def _is_flat(obj):
  return bool(obj) and all(isinstance(k, str) and hasattr(v, 'shape')
                           for k, v in obj.items())


def to_variables(state: dict, tensors, template: dict, where: str) -> dict:
  """Flax variables shaped as `template` from `state` by the layout `tensors`.

  Refuses, naming the tensor, the first missing key, the first unexpected
  key, the first mis-shaped tensor, and a tensor with NaN or infinities.
  """
  wanted = {t.key: t for t in tensors}
  for t in tensors:
    if t.kind != 'count' and t.key not in state:
      raise errors.CheckpointError(f'{where}: tensor {t.key!r} is missing (the '
                                   f'model\'s {"/".join(t.path)})')
  for key in state:
    if key not in wanted:
      raise errors.CheckpointError(f'{where}: unexpected tensor {key!r} '
                                   f'{tuple(np.shape(state[key]))}; the model has no such part')
  variables = {}
  for t in tensors:
    if t.kind == 'count':
      continue
    value = np.asarray(state[t.key])
    expected = layouts.torch_shape(t, layouts.at(template, t.path).shape)
    if value.shape != expected:
      raise errors.CheckpointError(f'{where}: tensor {t.key!r} is {value.shape}; the '
                                   f'model expects {expected}')
    if not np.issubdtype(value.dtype, np.floating):
      raise errors.CheckpointError(f'{where}: tensor {t.key!r} is {value.dtype}; '
                                   'expected floating point')
    value = value.astype(np.float32)
    if not np.isfinite(value).all():
      raise errors.CheckpointError(f'{where}: tensor {t.key!r} holds NaN or '
                                   'infinities; expected finite weights')
    _put(variables, t.path, np.ascontiguousarray(layouts.to_flax(t, value)))
  return variables


def from_variables(variables: dict, tensors) -> dict:
  """{key: np.ndarray} of `variables` in the layout `tensors` (PyTorch's shapes;
  num_batches_tracked = 0)."""
  variables = jax.device_get(variables)
  return {t.key: (np.zeros((), np.int64) if t.kind == 'count' else np.ascontiguousarray(
      layouts.to_torch(t, np.asarray(layouts.at(variables, t.path), np.float32))))
          for t in tensors}


def write(path: str, state: dict):
  """Writes {key: np.ndarray} to `path` (.safetensors, or .pt with torch),
  atomically and honouring the umask."""
  if path.endswith(SAFETENSORS):
    from safetensors import numpy as st  # pylint: disable=g-import-not-at-top
    data = st.save(state)
    outputs.write_with(path, lambda f: f.write(data))
    return
  torch = _torch(f'writing {path!r}')
  tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
  outputs.write_with(path, lambda f: torch.save(tensors, f))


def _torch(what):
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.CheckpointError(
        f'{what} needs PyTorch (pip install torch); expected torch installed, or a '
        '.safetensors file') from None
  return torch


def _put(tree, path, value):
  for name in path[:-1]:
    tree = tree.setdefault(name, {})
  tree[path[-1]] = value


def _reason(error):
  return ' '.join(f'{type(error).__name__}: {error}'.split())[:200]
