"""Distillation methods, one module each, registered by name (see `base`).

  none    plain cross-entropy (teachers, baseline students)   ce.py
  kd      Hinton et al. vanilla KD                             kd.py
  fitnet  FitNets: hint stage, then KD                         fitnet.py
  rkd     relational KD, distance (+ angle)                    rkd.py
  dkd     decoupled KD (Zhao et al. 2022)                      dkd.py
  at      attention transfer (Zagoruyko & Komodakis 2017)      attention.py

A new method is a module that builds a `base.Method` and calls
`base.register` (tests/test_methods.py registers one from the test file).
"""

# pylint: disable=g-bad-import-order  (registration order = listing order)
from kdjax.methods import ce
from kdjax.methods import kd
from kdjax.methods import fitnet
from kdjax.methods import rkd
from kdjax.methods import dkd
from kdjax.methods import attention
from kdjax.methods.base import Key, Method, Objective, all_keys, get, names, register

__all__ = ['Key', 'Method', 'Objective', 'all_keys', 'get', 'names', 'register',
           'attention', 'ce', 'dkd', 'fitnet', 'kd', 'rkd']
