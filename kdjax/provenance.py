"""Where a run was trained: the device, the CPU's vector instruction sets
and the numerics-bearing package versions, recorded in metrics.json.

XLA compiles for the host it runs on, so the same code, seed and data give
bit-identical results on one kind of machine but can round differently on
another (an AVX2-only CPU against one with AVX-512 or AMX:
experiments/results/reproduction.md). When a re-trained run does not
match a committed one, this record says whether the machines differed.
A resumed run records the machine of its last segment.
"""

import importlib.metadata
import platform

import jax

# CPU features that change which kernels XLA:CPU (and its libraries) emit.
_FEATURES = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'avx_vnni', 'amx_tile',
             'amx_bf16', 'fma', 'asimd', 'sve', 'sve2', 'bf16', 'i8mm')
# What names a CPU's kind where the model name alone does not ("AMD EPYC"):
# x86's vendor, family, model and stepping; ARM's implementer and part.
_KIND = ('vendor_id', 'cpu family', 'model', 'stepping', 'CPU implementer', 'CPU part')
_PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'numpy')


def _cpu(cpuinfo='/proc/cpuinfo') -> tuple[str, list[str]]:
  """(model name, the `_FEATURES` it has) of this machine's CPU; from
  `platform` where /proc/cpuinfo is absent (macOS, Windows)."""
  try:
    with open(cpuinfo) as f:
      text = f.read()
  except OSError:
    return platform.processor() or platform.machine(), []
  name, kind, flags = '', {}, set()
  for line in text.splitlines():
    key, _, value = line.partition(':')
    key, value = key.strip(), value.strip()
    if key in ('model name', 'Model') and not name:
      name = value
    elif key in _KIND:
      kind.setdefault(key, value)
    elif key in ('flags', 'Features'):
      flags |= set(value.split())
  kind = ', '.join(f'{k} {kind[k]}' for k in _KIND if k in kind)
  name = (name or platform.machine()) + (f' [{kind}]' if kind else '')
  return name, [f for f in _FEATURES if f in flags]


def _version(package) -> str:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return 'not installed'


def record(cpuinfo='/proc/cpuinfo') -> dict:
  """{'device', 'processes', 'cpu', 'cpu_features', 'packages'} of this
  process's host (in a multi-process run, each host records its own; the
  primary one's is written)."""
  cpu, features = _cpu(cpuinfo)
  return {'device': f'{jax.default_backend()}: {jax.devices()[0].device_kind}',
          'processes': jax.process_count(), 'cpu': cpu, 'cpu_features': features,
          'packages': {p: _version(p) for p in _PACKAGES}}


def describe(rec) -> str:
  """One line of a `record` (None: not recorded), for messages."""
  if not rec:
    return 'a machine it did not record'
  return f"{rec['device']}, {rec['cpu']} ({'/'.join(rec['cpu_features']) or 'no listed features'})"
