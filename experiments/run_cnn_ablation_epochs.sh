#!/usr/bin/env bash
# Issue 12: has the baseline student stopped gaining at the grid's length? The
# same student and recipe as the grid's baseline (configs/cifar10_cnn_ablation/kd.py
# with no distillation), trained alone for EPOCHS epochs (cosine over EPOCHS).
# Collects metrics.json, config.json, predictions/test.npz and the wall time
# under experiments/results/cifar10_cnn_ablation/epochs/student_e<EPOCHS>_s<SEED>/,
# which `python experiments/cnn_ablation.py` compares with the grid's baseline
# of the same seed. A finished run is skipped; an interrupted one resumes.
#
# Usage: bash experiments/run_cnn_ablation_epochs.sh SEED EPOCHS
#   env: RUNS_DIR (default runs/cifar10_cnn_ablation_epochs), DATA_DIR
set -euo pipefail
seed=${1:?usage: run_cnn_ablation_epochs.sh SEED EPOCHS}
epochs=${2:?usage: run_cnn_ablation_epochs.sh SEED EPOCHS}
runs=${RUNS_DIR:-runs/cifar10_cnn_ablation_epochs}
data=${DATA_DIR:-../shared/data/cifar10-jpeg}
out=experiments/results/cifar10_cnn_ablation/epochs/student_e${epochs}_s$seed

source "$(dirname "$0")/collect.sh"

[ -f "$out/metrics.json" ] && { echo "$out: done"; exit 0; }
run=$runs/student_e${epochs}_s$seed
t0=$SECONDS
resumed=$(resumed "$run")
python -m kdjax.main --config=configs/cifar10_cnn_ablation/kd.py --config.method=none \
    --config.train.epochs="$epochs" --config.seed="$seed" \
    --config.dataset.data_dir="$data" --workdir="$run"
collect "$out" "$run" "$runs" $((SECONDS - t0)) "$resumed"
