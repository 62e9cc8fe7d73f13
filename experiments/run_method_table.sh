#!/usr/bin/env bash
# The CIFAR-10 CNN pair's method table (docs/reproducing.md) for one seed:
# the seed's teacher re-trained from its committed config into RUNS_DIR
# (skipped if there; it must equal the committed teacher_s<seed> bit for bit,
# by params_sha256, or nothing is distilled from it), then every method row
# not yet collected in experiments/results/cifar10_cnn/runs/: the rows that
# can share a program as programs sharing the teacher's forward pass
# (experiments/run_study.sh's a+b+c rows), then the rows that train in stages.
#
# Usage: bash experiments/run_method_table.sh SEED [PROGRAM ...]
#   PROGRAM: rows joined by + (default: the feature rows, the logit rows, ft, ab)
#   env: RUNS_DIR (default runs/cifar10_cnn_s<seed>), DATA_DIR
set -euo pipefail
seed=${1:?usage: run_method_table.sh SEED [PROGRAM ...]}
shift
export RUNS_DIR=${RUNS_DIR:-runs/cifar10_cnn_s$seed}
data=${DATA_DIR:-../shared/data/cifar10-jpeg}
here=$(dirname "$0")
programs=("$@")
[ ${#programs[@]} -gt 0 ] || programs=(
  sp+cc+vid+pkt+nst+crd+reviewkd+kdsvd kd_ls+dkd_ls+dist+dist_ls+mlkd+mlkd_ls+ctkd ft ab)
if [ ! -f "$RUNS_DIR/teacher/metrics.json" ]; then
  python -m kdjax.main --config=configs/cifar10_cnn/teacher.py --config.seed="$seed" \
    --config.dataset.data_dir="$data" --workdir="$RUNS_DIR/teacher"
fi
python - "$here/results/cifar10_cnn/runs/teacher_s$seed/metrics.json" \
    "$RUNS_DIR/teacher/metrics.json" <<'PY'
import json, sys
want, got = (json.load(open(p))['params_sha256'] for p in sys.argv[1:])
if want != got:
  print(f'kdjax: error: the teacher {sys.argv[2]} has params_sha256 {got[:16]}, the '
        f'committed {sys.argv[1]} {want[:16]}; expected the same teacher', file=sys.stderr)
  sys.exit(2)
PY
DATA_DIR=$data bash "$here/run_study.sh" cifar10_cnn "$seed" "${programs[@]}"
