"""The one place kdjax sets XLA options, and only where they were measured to help.

Options are given per compiled program (`Lowered.compile(compiler_options=)`),
never through the process-wide $XLA_FLAGS, so each program gets what helps
it. Measured with experiments/bench/train_steps.py on the project's 2-core
CPU machine (see experiments/results/bench.md):

- `xla_cpu_experimental_ynn_fusion_type=DOT` hands dots and the convolutions
  around them to XNNPACK's YNN kernels: CIFAR CNN train steps ~1.4-1.8x
  faster, so it is on for convolutional models on CPU. It is off for the
  MLPs, which it slows (the MNIST KD step by ~15%), and off on GPUs, which
  ignore `xla_cpu_*` options anyway.

KDJAX_XLA_OPTIONS=0 in the environment turns them all off (to compare).
"""

import os

import jax

YNN = {'xla_cpu_experimental_ynn_fusion_type':
           'LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE'}


def for_training(convolutional: bool, backend: str | None = None) -> dict:
  """`compiler_options` for the train steps of a run."""
  if os.environ.get('KDJAX_XLA_OPTIONS', '1') == '0':
    return {}
  backend = backend or jax.default_backend()
  return dict(YNN) if convolutional and backend == 'cpu' else {}
