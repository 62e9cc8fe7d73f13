"""Distillation methods, one module each, registered by name (see `base`).

  none    plain cross-entropy (teachers, baseline students)   ce.py
  kd      Hinton et al. vanilla KD                             kd.py
  fitnet  FitNets: hint stage, then KD                         fitnet.py
  rkd     relational KD, distance (+ angle)                    rkd.py
  dkd     decoupled KD (Zhao et al. 2022)                      dkd.py
  at      attention transfer (Zagoruyko & Komodakis 2017)      attention.py
  dist    DIST: Pearson-correlation relations (Huang et al. 2022)  dist.py
  mlkd    multi-level logit distillation (Jin et al. 2023)     mlkd.py
  ctkd    KD with a learned, adversarial temperature (Li et al. 2023)  ctkd.py
  sp      similarity-preserving KD (Tung & Mori 2019)          sp.py
  pkt     probabilistic knowledge transfer (Passalis & Tefas 2018)  pkt.py
  nst     neuron selectivity transfer (Huang & Wang 2017)      nst.py
  vid     variational information distillation (Ahn et al. 2019)  vid.py
  fsp     flow of solution procedure: an FSP init stage (Yim et al. 2017)  fsp.py
  cc      correlation congruence, embeddings of both networks (Peng et al. 2019)  cc.py
  crd     contrastive representation distillation, memory banks (Tian et al. 2020)  crd.py
  kdsvd   KD by singular value decomposition (Lee et al. 2018)  kdsvd.py
  ab      activation boundaries: an init stage (Heo et al. 2019)  ab.py
  reviewkd  knowledge review: fusion modules, HCL (Chen et al. 2021)  reviewkd.py
  ft      factor transfer: a paraphraser stage, a translator (Kim et al. 2018)  ft.py
  ofd     overhaul of feature distillation, margins from the teacher's BN (Heo et al. 2019)  ofd.py

`distill.logit_standardize` (Sun et al. 2024, standardize.py) is a switch of
kd, dkd, dist and mlkd, not a method.

A new method is a module that builds a `base.Method` and calls
`base.register` (tests/test_methods.py registers one from the test file); its
trainable parts (`Method.head`) and stages before the main one (`base.Stage`)
are declared there too (tests/test_methods_parts.py declares a stage).
"""

# pylint: disable=g-bad-import-order  (registration order = listing order)
from kdjax.methods import ce
from kdjax.methods import kd
from kdjax.methods import fitnet
from kdjax.methods import rkd
from kdjax.methods import dkd
from kdjax.methods import attention
from kdjax.methods import dist
from kdjax.methods import mlkd
from kdjax.methods import ctkd
from kdjax.methods import sp
from kdjax.methods import pkt
from kdjax.methods import nst
from kdjax.methods import vid
from kdjax.methods import fsp
from kdjax.methods import cc
from kdjax.methods import crd
from kdjax.methods import kdsvd
from kdjax.methods import ab
from kdjax.methods import reviewkd
from kdjax.methods import ft
from kdjax.methods import ofd
from kdjax.methods import standardize
from kdjax.methods.base import Context, Key, Method, Objective, all_keys, get, names, register

__all__ = ['Context', 'Key', 'Method', 'Objective', 'all_keys', 'get', 'names', 'register',
           'ab', 'attention', 'cc', 'ce', 'crd', 'ctkd', 'dist', 'dkd', 'fitnet', 'fsp', 'ft', 'kd', 'kdsvd',
           'mlkd', 'nst', 'ofd', 'pkt', 'reviewkd', 'rkd', 'sp', 'standardize', 'vid']
