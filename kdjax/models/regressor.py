"""FitNets stage 1: a student with a regressor on its guided layer."""

import flax.linen as nn

from kdjax.models import layers


class WithRegressor(nn.Module):
  """`student` plus a regressor mapping feature `guided` to `hint_features` units.

  A Dense layer for vector features [B, D], a 1x1 convolution for feature
  maps [B, H, W, C] (Romero et al.), initialised as the student's `param_init`
  says (PyTorch's `nn.Linear`/`nn.Conv2d` defaults under 'torch', as the
  references' regressors). Its features gain 'regressed'. The
  parameters are {'student': ..., 'regressor': ...}; only the student's are
  kept after stage 1, so the deployed student's size is unchanged.
  """
  student: nn.Module
  guided: str
  hint_features: int

  @nn.compact
  def __call__(self, x, *, train: bool = False, return_features: bool = False):
    logits, features = self.student(x, train=train, return_features=True)
    h = features[self.guided]
    init = layers.scheme(getattr(self.student, 'param_init', 'flax'))
    if h.ndim == 2:
      regressed = layers.dense(self.hint_features, init=init, name='regressor')(h)
    else:
      regressed = layers.conv(self.hint_features, (1, 1), init=init, name='regressor')(h)
    features = {**features, 'regressed': regressed}
    return (logits, features) if return_features else logits
