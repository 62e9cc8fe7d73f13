#!/usr/bin/env bash
# Copies the small outputs of run_mnist_temperature.sh's runs (metrics.json,
# config.json, predictions) into experiments/results/mnist_temperature/runs/
# and writes the report. Usage: bash experiments/collect_mnist_temperature.sh RUNS_DIR
set -euo pipefail
runs=${1:?usage: collect_mnist_temperature.sh RUNS_DIR}
results=experiments/results/mnist_temperature
collect() {  # collect RUN_DIR DEST
  mkdir -p "$2/predictions"
  cp "$1/metrics.json" "$1/config.json" "$2/"
  cp "$1/predictions/test.npz" "$2/predictions/"
}
collect "$runs/teacher" "$results/runs/teacher"
for dir in "$runs"/grid/temperature=*; do collect "$dir" "$results/runs/grid/$(basename "$dir")"; done
collect "$runs/separate/temperature=4.0,seed=0" "$results/runs/separate/temperature=4.0,seed=0"
python -m kdjax.analysis report --runs="$results/runs/teacher" --runs="$results/runs/grid/*" \
    --out="$results/report" --title='MNIST KD temperature ablation (one grid program), 3 seeds'
