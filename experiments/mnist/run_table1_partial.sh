#!/usr/bin/env bash
# Table 1 (partial) of the comparison study on real MNIST: teacher, baseline
# student, vanilla KD (T=20, alpha=0.1), full size (20 epochs), one seed.
# Usage: bash experiments/mnist/run_table1_partial.sh [RUNS_DIR] [MNIST_DIR] [SEED]
set -euo pipefail
runs=${1:-runs/mnist}
data=${2:-${KDJAX_MNIST_DIR:-../shared/data/mnist}}
seed=${3:-0}
common=(--config.dataset.data_dir="$data" --config.seed="$seed")
timed() { local name=$1; shift; local t0=$SECONDS; "$@"; echo "$name: $((SECONDS - t0)) s wall" | tee -a "$runs/wall_times.txt"; }
mkdir -p "$runs"
timed teacher python -m kdjax.main --config=configs/mnist/teacher.py "${common[@]}" --workdir="$runs/teacher"
timed student python -m kdjax.main --config=configs/mnist/student.py "${common[@]}" --workdir="$runs/student"
timed kd python -m kdjax.main --config=configs/mnist/kd.py "${common[@]}" \
  --config.teacher.workdir="$runs/teacher" --workdir="$runs/kd"
