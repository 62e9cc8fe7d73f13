"""Logit standardisation (Sun et al., "Logit Standardization in Knowledge
Distillation", CVPR 2024; code: sunshangquan/logit-standardization-KD).

A switch of the logit methods (KD, DKD, DIST, MLKD), not a method of its own:
with `distill.logit_standardize`, each logit vector z [C] is replaced by

  Z(z) = (z - mean(z)) / (std(z) + 1e-7)

(the reference's `normalize`: the unbiased standard deviation, as torch's
`Tensor.std`) in the method's distillation terms, for student and teacher
alike, before the softmax at the method's temperature (the paper's "base
temperature"). The cross-entropy with the labels keeps the raw logits, as in
the reference. The reference's command line sets the base temperature to 2
and its KD weight to 9 (`--base-temp 2 --kd-weight 9`: KD's soft term,
DKD's alpha and beta times 9, MLKD's KD weight) on its config's CE weight 1;
`reference_settings` applies that and the configs
`configs/*/{kd,dkd,dist,mlkd}_ls.py` use it.
"""

import jax.numpy as jnp

from kdjax.methods import base

STANDARDIZE = base.flag(
    'distill.logit_standardize', False,
    'replace each logit vector z by (z - mean z) / (std z + 1e-7) in the '
    'distillation terms (KD, DKD, DIST, MLKD; Sun et al. 2024)', symbol='LS', show_zero=False)


def standardize(logits, eps=1e-7):
  """Z(z) per row of logits [B, C]: zero mean, unit (unbiased) std, float32."""
  z = logits.astype(jnp.float32)
  mean = jnp.mean(z, axis=-1, keepdims=True)
  std = jnp.std(z, axis=-1, keepdims=True, ddof=1)
  return (z - mean) / (std + eps)


def maybe(logits, on: bool):
  """`standardize(logits)` if `on` (a static switch), else `logits`."""
  return standardize(logits) if on else logits


def option(configs) -> dict:
  """The switch as a static loss option (the same for every grid point)."""
  return {'standardize': bool(configs[0].distill.logit_standardize)}


def reference_settings(config, kd_weight=9.0, base_temperature=2.0, ce_weight=1.0):
  """`config` switched to logit standardisation as the reference does it: its
  command line (`--logit-stand --base-temp 2 --kd-weight 9`, tools/train.py)
  on its config defaults (mdistiller/engine/cfg.py: KD CE weight 1).
  KD: CE weight 1 (alpha), the soft term's weight 9, T = 2; DKD: alpha and
  beta times 9, T = 2 (its CE weight is 1 already); MLKD: CE weight 1, KD
  weight 9, its first (base) temperature 2; DIST (no reference setting):
  only the switch. Returns `config`."""
  config.distill.logit_standardize = True
  if config.method == 'kd':
    config.distill.update(alpha=ce_weight, standardized_kd_weight=kd_weight,
                          temperature=base_temperature)
  elif config.method == 'dkd':
    config.dkd.update(alpha=config.dkd.alpha * kd_weight, beta=config.dkd.beta * kd_weight,
                      temperature=base_temperature)
  elif config.method == 'mlkd':
    config.mlkd.update(ce_weight=ce_weight, kd_weight=kd_weight)
    config.mlkd.temperatures = (base_temperature,) + tuple(config.mlkd.temperatures[1:])
  elif config.method != 'dist':
    raise ValueError(f'method={config.method!r} has no logit-standardisation switch')
  return config
