#!/usr/bin/env bash
# The ResNet study's T/alpha protocol on the CNN pair (issue 12), one seed:
# the teacher under the study's recipe, then the 10 students of
# experiments/sweeps/cnn_ablation.py as one program. Collects each finished
# run's small outputs (metrics.json, config.json, predictions/test.npz, wall
# time) under experiments/results/cifar10_cnn_ablation/runs/<name>_s<seed>/;
# checkpoints stay in RUNS_DIR. Finished parts are skipped; interrupted ones
# resume from their checkpoints.
#
# Usage: bash experiments/run_cnn_ablation.sh SEED [teacher]
#   teacher: only the teacher (to train the teachers of several seeds first)
#   env: RUNS_DIR (default runs/cifar10_cnn_ablation_s<seed>), DATA_DIR
set -euo pipefail
seed=${1:?usage: run_cnn_ablation.sh SEED [teacher]}
part=${2:-all}
runs=${RUNS_DIR:-runs/cifar10_cnn_ablation_s$seed}
data=${DATA_DIR:-../shared/data/cifar10-jpeg}
results=experiments/results/cifar10_cnn_ablation/runs

source "$(dirname "$0")/collect.sh"

if [ ! -f "$results/teacher_s$seed/metrics.json" ]; then
  t0=$SECONDS
  resumed=$(resumed "$runs/teacher")
  python -m kdjax.main --config=configs/cifar10_cnn_ablation/teacher.py \
      --config.seed="$seed" --config.dataset.data_dir="$data" --workdir="$runs/teacher"
  collect "$results/teacher_s$seed" "$runs/teacher" "$runs" $((SECONDS - t0)) "$resumed"
fi
[ "$part" = teacher ] && exit 0
t0=$SECONDS
resumed=$(resumed "$runs/students/grid")
python -m kdjax.sweep --sweep=experiments/sweeps/cnn_ablation.py --workdir="$runs/students" \
    --set=seed="$seed" --set=teacher.workdir="$runs/teacher" --set=dataset.data_dir="$data"
for dir in "$runs"/students/alpha=*; do
  name=$(basename "$dir" | sed 's/alpha=\([0-9.]*\),temperature=\([0-9.]*\)/kd_t\2_a\1/')
  [ "$name" = kd_t4.0_a1.0 ] && name=student  # alpha = 1: the baseline
  [ -f "$results/${name}_s$seed/metrics.json" ] || collect "$results/${name}_s$seed" "$dir" "$runs" $((SECONDS - t0)) "$resumed"
done
