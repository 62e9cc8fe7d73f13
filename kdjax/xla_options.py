"""The one place kdjax sets XLA options, and only where they were measured to help.

Options are given per compiled program (`Lowered.compile(compiler_options=)`),
never through the process-wide $XLA_FLAGS, so each program gets what helps
it. Measured with experiments/bench/train_steps.py on the project's 2-core
CPU machine (see experiments/results/bench.md):

- `xla_cpu_experimental_ynn_fusion_type=DOT,REDUCE` hands dots, the
  convolutions around them and reductions to XNNPACK's YNN kernels: the
  CIFAR CNN teacher step 407 -> 686 samples/s, the KD step 775 -> 1,108, so
  it is on for convolutional models on CPU. The MLPs are 3-8% slower with
  it (MNIST KD step 19,201 vs 19,745), so they keep XLA's defaults; GPUs
  ignore `xla_cpu_*` options anyway.
- Tried, no gain: bf16 convolutions (no faster than f32 on XLA:CPU, with
  or without YNN), convolutions as im2col or as 9 shifted matmuls (slower),
  YNN for individual convolutions (~2x slower), YNN element-wise fusion,
  turning off XLA's tree-reduction rewriter (teacher -7%, student +2%).
- AMD EPYC (2026-11-23, experiments/bench/xla_option_sets.py): YNN again
  best for the CNN steps (teacher 512 -> 812 samples/s, student 1,719 ->
  2,389). The jaxlib's oneDNN paths (`xla_cpu_use_onednn`, its custom
  calls, its fusion types for single convolutions or dots) are slower than
  YNN alone (oneDNN alone: teacher 591, student 1,584), and oneDNN + YNN is
  within run-to-run noise of YNN alone, so they stay off.
- Evaluation (`loop.predictor`) takes the same options: the test-set pass
  of seed 0's 10 trained 40-epoch CNN ablation students, 2.77x faster
  (102.9 -> 37.1 s, AMD EPYC with both cores shared with a training grid,
  2026-11-24, experiments/bench/eval_options.py), logits bit for bit the
  same. A run's own final eval gave the saved logits bit for bit, too.

KDJAX_XLA_OPTIONS=0 in the environment turns them all off (to compare).
"""

import os

import jax

YNN = {'xla_cpu_experimental_ynn_fusion_type':
           'LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE'}


def for_training(convolutional: bool, backend: str | None = None) -> dict:
  """`compiler_options` for the train steps (and the evaluation) of a run."""
  if os.environ.get('KDJAX_XLA_OPTIONS', '1') == '0':
    return {}
  backend = backend or jax.default_backend()
  return dict(YNN) if convolutional and backend == 'cpu' else {}
