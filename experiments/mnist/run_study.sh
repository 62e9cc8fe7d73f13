#!/usr/bin/env bash
# The comparison study's MNIST experiments (seeds/004, Tables 1 and 3) on real
# MNIST, full size, for one seed. Each run's small outputs (metrics.json,
# config.json, predictions/test.npz, wall time) are collected under
# experiments/results/mnist/runs/<row>_s<seed>/; checkpoints stay in RUNS_DIR.
# Students of seed s are distilled from the teacher of seed s. Rows already
# collected are skipped; an interrupted run resumes from its checkpoint.
#
# Usage: bash experiments/mnist/run_study.sh SEED [RUNS_DIR] [MNIST_DIR] [ROW ...]
#   rows: teacher student kd fitnet rkd student_bn kd_bn fitnet_bn rkd_bn (default: all)
set -euo pipefail
seed=${1:?usage: run_study.sh SEED [RUNS_DIR] [MNIST_DIR] [ROW ...]}
runs=${2:-runs/mnist_s$seed}
data=${3:-${KDJAX_MNIST_DIR:-../shared/data/mnist}}
shift $(( $# < 3 ? $# : 3 ))
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(teacher student kd fitnet rkd student_bn kd_bn fitnet_bn rkd_bn)
results=experiments/results/mnist/runs

for row in "${rows[@]}"; do
  out="$results/${row}_s${seed}"
  if [ -f "$out/metrics.json" ]; then echo "== $row (seed $seed): collected, skipped"; continue; fi
  t0=$SECONDS
  args=(--config="configs/mnist/$row.py" --config.seed="$seed"
        --config.dataset.data_dir="$data" --workdir="$runs/$row")
  [ "$row" = teacher ] || [[ "$row" = student* ]] || args+=(--config.teacher.workdir="$runs/teacher")
  python -m kdjax.main "${args[@]}"
  mkdir -p "$out/predictions"
  cp "$runs/$row/metrics.json" "$runs/$row/config.json" "$out/"
  cp "$runs/$row/predictions/test.npz" "$out/predictions/"
  echo "$((SECONDS - t0))" > "$out/wall_seconds.txt"
  echo "== $row (seed $seed): $((SECONDS - t0)) s wall"
done
