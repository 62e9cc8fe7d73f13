#!/usr/bin/env bash
# The CIFAR-10 CNN pair's method table (docs/reproducing.md) for one seed
# whose Table 2 rows are committed: the seed's teacher re-trained from its
# committed config into RUNS_DIR (skipped if there; it must equal the
# committed teacher_s<seed> bit for bit, by params_sha256, or nothing is
# distilled from it), then the method rows beyond Table 2's not yet collected
# in experiments/results/cifar10_cnn/runs/: the rows that can share a program
# as programs sharing the teacher's forward pass (experiments/run_study.sh's
# a+b+c rows), then the rows that train in stages, alone. The default
# programs are sized to finish within a session of a few hours on 2 CPU
# cores (a program is collected only when all its rows have finished): the
# rows that read the teacher's embedding from the cache (cc+pkt+crd), the
# logit rows in two programs, then the feature rows whose teacher maps run
# live each alone (on a CPU the five as one program were slower than the
# five alone in turn: docs/reproducing.md), FT and AB (stages), ReviewKD
# last (its fusion modules: about 2.5 h alone on 2 cores).
#
# Usage: bash experiments/run_method_table.sh SEED [PROGRAM ...]
#   PROGRAM: rows joined by + (default: the programs and rows above)
#   env: RUNS_DIR (default runs/cifar10_cnn_s<seed>), DATA_DIR; RESULTS with
#        EXTRA (a reduced run must not be collected beside the full-size rows)
set -euo pipefail
seed=${1:?usage: run_method_table.sh SEED [PROGRAM ...]}
shift
committed=$(dirname "$0")/results/cifar10_cnn/runs/teacher_s$seed/metrics.json
if [ ! -f "$committed" ]; then
  echo "kdjax: error: no committed teacher of seed $seed ($committed); expected a seed of Table 2" >&2
  exit 2
fi
if [ -n "${EXTRA:-}" ] && [ -z "${RESULTS:-}" ]; then
  echo "kdjax: error: EXTRA=$EXTRA would collect reduced rows into the full-size results; expected RESULTS=<another folder> with it" >&2
  exit 2
fi
export RUNS_DIR=${RUNS_DIR:-runs/cifar10_cnn_s$seed}
data=${DATA_DIR:-../shared/data/cifar10-jpeg}
here=$(dirname "$0")
programs=("$@")
[ ${#programs[@]} -gt 0 ] || programs=(
  cc+pkt+crd kd_ls+dkd_ls+dist+dist_ls mlkd+mlkd_ls+ctkd sp nst vid kdsvd ft ab reviewkd)
if [ ! -f "$RUNS_DIR/teacher/metrics.json" ]; then
  python -m kdjax.main --config=configs/cifar10_cnn/teacher.py --config.seed="$seed" \
    --config.dataset.data_dir="$data" --workdir="$RUNS_DIR/teacher"
fi
python - "$committed" "$RUNS_DIR/teacher/metrics.json" <<'PY'
import json, sys
from kdjax import provenance
want, got = (json.load(open(p)) for p in sys.argv[1:])
if want['params_sha256'] != got['params_sha256']:
  machines = ' and '.join(f'{who} on {provenance.describe(m.get("trained_on"))}'
                          for who, m in (('that', got), ('the committed one', want)))
  print(f'kdjax: error: the teacher {sys.argv[2]} has params_sha256 {got["params_sha256"][:16]}, '
        f'the committed {sys.argv[1]} {want["params_sha256"][:16]} ({machines}: XLA '
        'rounds differently on another kind of CPU); expected the same teacher', file=sys.stderr)
  sys.exit(2)
PY
DATA_DIR=$data bash "$here/run_study.sh" cifar10_cnn "$seed" "${programs[@]}"
