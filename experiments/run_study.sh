#!/usr/bin/env bash
# Runs the rows of a study for one seed and collects each run's small outputs
# (metrics.json, config.json, predictions/test.npz, wall time) under
# experiments/results/<results>/runs/<row>_s<seed>/; checkpoints stay in RUNS_DIR.
# Students of seed s are distilled from the teacher of seed s. Rows already
# collected are skipped; an interrupted run resumes from its checkpoint.
#
# A ROW of the form a+b+c trains those of rows a, b and c not yet collected as
# one program sharing the teacher's forward pass (experiments/sweeps/rows.py;
# RUNS_DIR/a+b+c/<row>), each collected as its own row, with the program's
# wall time divided by its rows; rows it trained before but did not collect
# are collected, and a single row left trains alone.
#
# Usage: bash experiments/run_study.sh STUDY SEED [ROW ...]
#   STUDY: mnist (seeds/004 Tables 1 and 3) or cifar10_cnn (seeds/004 Table 2)
#   env:   RUNS_DIR (default runs/<study>_s<seed>), DATA_DIR (default ../shared/data/...),
#          RESULTS (default <study>), EXTRA (more --config overrides, e.g. for a reduced run)
set -euo pipefail
study=${1:?usage: run_study.sh STUDY SEED [ROW ...]}
seed=${2:?usage: run_study.sh STUDY SEED [ROW ...]}
shift 2
case "$study" in
  mnist) default_rows=(teacher student kd fitnet rkd student_bn kd_bn fitnet_bn rkd_bn)
         data=${DATA_DIR:-${KDJAX_MNIST_DIR:-../shared/data/mnist}} ;;
  cifar10_cnn) default_rows=(teacher student kd fitnet rkd)
         data=${DATA_DIR:-../shared/data/cifar10-jpeg} ;;
  *) echo "unknown study $study; expected mnist or cifar10_cnn" >&2; exit 2 ;;
esac
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=("${default_rows[@]}")
runs=${RUNS_DIR:-runs/${study}_s$seed}
results=experiments/results/${RESULTS:-$study}/runs
read -r -a extra <<< "${EXTRA:-}"

source "$(dirname "$0")/collect.sh"

one_row() {  # one_row ROW: a row trained alone, then collected
  local row=$1 out="$results/${1}_s${seed}" t0=$SECONDS resumed args
  if [ -f "$out/metrics.json" ]; then echo "== $row (seed $seed): collected, skipped"; return; fi
  resumed=$(resumed "$runs/$row")
  args=(--config="configs/$study/$row.py" --config.seed="$seed"
        --config.dataset.data_dir="$data" --workdir="$runs/$row" "${extra[@]}")
  [ "$row" = teacher ] || [[ "$row" = student* ]] || args+=(--config.teacher.workdir="$runs/teacher")
  python -m kdjax.main "${args[@]}"
  collect "$out" "$runs/$row" "$runs" "$((SECONDS - t0))" "$resumed"
  echo "== $row (seed $seed): $((SECONDS - t0)) s wall"
}

program() {  # program ROWS: the rows a+b+c not yet collected as one program
  local dir="$runs/$1" t0=$SECONDS row todo=() program resumed
  for row in ${1//+/ }; do
    [ -f "$results/${row}_s${seed}/metrics.json" ] && continue
    if finished "$dir/$row"; then  # trained by this program before, not collected
      collect "$results/${row}_s${seed}" "$dir/$row" "$runs"; continue
    fi
    todo+=("$row")
  done
  if [ ${#todo[@]} = 0 ]; then echo "== $1 (seed $seed): collected, skipped"; return; fi
  if [ ${#todo[@]} = 1 ]; then one_row "${todo[0]}"; return; fi
  program=$(IFS=+; echo "${todo[*]}")
  resumed=$(resumed "$dir/grid")
  python -m kdjax.sweep --sweep="$(dirname "$0")/sweeps/rows.py:$study:$program" \
    --workdir="$dir" --set=seed="$seed" --set=dataset.data_dir="$data" \
    --set=teacher.workdir="$runs/teacher" "${extra[@]/#--config./--set=}"
  for row in "${todo[@]}"; do
    collect "$results/${row}_s${seed}" "$dir/$row" "$runs" "$(((SECONDS - t0) / ${#todo[@]}))" \
      "$resumed"
  done
  echo "== $program (seed $seed): $((SECONDS - t0)) s wall"
}

for row in "${rows[@]}"; do
  if [[ "$row" = *+* ]]; then program "$row"; else one_row "$row"; fi
done
