#!/usr/bin/env bash
# Copies the small outputs of run_mnist_temperature.sh's runs (metrics.json,
# config.json, predictions) into experiments/results/mnist_temperature/runs/
# and writes the report. Usage: bash experiments/collect_mnist_temperature.sh RUNS_DIR
set -euo pipefail
runs=${1:?usage: collect_mnist_temperature.sh RUNS_DIR}
results=experiments/results/mnist_temperature
source "$(dirname "$0")/collect.sh"
collect "$results/runs/teacher" "$runs/teacher" "$runs"
for dir in "$runs"/grid/temperature=*; do collect "$results/runs/grid/$(basename "$dir")" "$dir" "$runs"; done
collect "$results/runs/separate/temperature=4.0,seed=0" "$runs/separate/temperature=4.0,seed=0" "$runs"
python -m kdjax.analysis report --runs="$results/runs/teacher" --runs="$results/runs/grid/*" \
    --out="$results/report" --title='MNIST KD temperature ablation (one grid program), 3 seeds'
