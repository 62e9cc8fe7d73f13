"""The record of where a run trained (kdjax.provenance)."""

import jax

from kdjax import provenance

_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 fma bmi2
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 fma bmi2
"""


def test_the_cpu_and_its_vector_features_are_read_from_cpuinfo(tmp_path):
  path = tmp_path / 'cpuinfo'
  path.write_text(_CPUINFO)
  rec = provenance.record(str(path))
  assert rec['cpu'] == 'AMD EPYC [vendor_id AuthenticAMD]'  # the first of each key
  assert rec['processes'] == jax.process_count()
  assert rec['cpu_features'] == ['avx2', 'fma']  # no AVX-512 or AMX on this one
  assert rec['packages']['jax'] == jax.__version__ and set(rec['packages']) >= {'flax', 'optax'}
  assert provenance.describe(rec).endswith('AMD EPYC [vendor_id AuthenticAMD] (avx2/fma)')


def test_without_cpuinfo_the_platform_names_the_cpu(tmp_path):
  rec = provenance.record(str(tmp_path / 'absent'))
  assert rec['cpu'] and rec['cpu_features'] == []
  assert provenance.describe(None) == 'a machine it did not record'
