"""A PyTorch checkpoint as a kdjax teacher workdir (`python -m kdjax.convert`)."""

import json
import os
import shutil


from kdjax import checkpoint
from kdjax import config as config_lib
from kdjax import data as data_lib
from kdjax import errors
from kdjax import models
from kdjax import outputs
from kdjax import train
from kdjax import workdir as workdir_lib
from kdjax.interop import layouts
from kdjax.interop import state_dict


def import_checkpoint(config, path: str, layout: str, workdir: str) -> dict:
  """Writes the teacher workdir of the PyTorch checkpoint `path`; returns its metrics."""
  config_lib.validate(config)
  if config.method != 'none':
    raise errors.ConfigError(f"--config has method={config.method!r}; expected a "
                             "teacher's config (method 'none')")
  if os.path.exists(workdir) and (not os.path.isdir(workdir) or os.listdir(workdir)):
    raise errors.ConfigError(f'--workdir={workdir!r} exists and is not empty; expected '
                             'a new directory (an import never writes into a run)')
  model = models.create(config.model, data_lib.num_classes(config.dataset))
  state = state_dict.read(path)  # a bad checkpoint is refused before the data is read
  tensors, template = layouts.of_model(config.model.name, layout, model,
                                       data_lib.image_shape(config.dataset))
  variables = state_dict.to_variables(state, tensors, template, path)
  data = data_lib.load(config.dataset)
  imported = {'checkpoint': os.path.basename(path), 'sha256': outputs.file_sha256(path),
              'layout': layouts.resolve(config.model.name, layout, model),
              'tensors': len(state)}
  created = not os.path.exists(workdir)
  workdir_lib.make(workdir)
  try:
    with workdir_lib.exclusive(workdir):
      checkpoint.save_variables(workdir, variables, step=0)
      outputs.write_json(os.path.join(workdir, 'config.json'), json.loads(config.to_json()))
      return train.finish(workdir, config, data, model, variables, history=[],
                          extra={'steps': 0, 'seed': config.seed, 'imported': imported})
  except BaseException:
    # No half-made teacher: what this call created goes (the workdir was new,
    # or empty, so everything in it is this call's).
    if created:
      shutil.rmtree(workdir, ignore_errors=True)
    else:
      for entry in os.listdir(workdir):
        path_in = os.path.join(workdir, entry)
        if os.path.isdir(path_in):
          shutil.rmtree(path_in, ignore_errors=True)
        else:
          os.remove(path_in)
    raise
