#!/usr/bin/env bash
# The ResNet-34 -> MobileNetV2 KD pipeline (seeds/000) at a CPU-sized, REDUCED
# scale: 2 epochs on a fixed random 2,048 training images (64 steps of 64),
# tested on a fixed random 1,000 test images; KD at T=4, alpha=0.3. It shows the pipeline working
# (loss falls, accuracy above chance) and gives CPU step times; the study's
# numbers need the GPU commands in the README.
# Usage: bash experiments/run_resnet_reduced.sh [RUNS_DIR] [DATA_DIR]
set -euo pipefail
runs=${1:-runs/cifar10_resnet_reduced}
data=${2:-../shared/data/cifar10-jpeg}
results=experiments/results/cifar10_resnet_reduced/runs
reduce=(--config.dataset.data_dir="$data" --config.train.epochs=2
        --config.train.batch_size=64 --config.dataset.train_subset=2048
        --config.dataset.test_subset=1000 --config.train.eval_batch_size=250
        --config.latency.repeats=50)
source "$(dirname "$0")/collect.sh"
for row in teacher kd_t4_a03; do
  t0=$SECONDS
  resumed=$(resumed "$runs/$row")
  args=(--config="configs/cifar10_resnet/$row.py" "${reduce[@]}" --workdir="$runs/$row")
  [ "$row" = teacher ] || args+=(--config.teacher.workdir="$runs/teacher")
  python -m kdjax.main "${args[@]}"
  collect "$results/$row" "$runs/$row" "$runs" "$((SECONDS - t0))" "$resumed"
  echo "== $row: $((SECONDS - t0)) s wall"
done
