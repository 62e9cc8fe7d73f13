#!/usr/bin/env bash
# MNIST KD temperature ablation as ONE vmapped program (kdjax/grid.py):
# T in {1, 2, 4, 8, 16} x seeds {0, 1, 2} = 15 students distilled from one
# teacher (seed 0), then the T = 4, seed 0 point once more as a separate run
# to compare. Collects each run's small outputs under
# experiments/results/mnist_temperature/ and writes the report there.
#
# Usage: bash experiments/run_mnist_temperature.sh
#   env: RUNS_DIR (default runs/mnist_temperature), DATA_DIR (default ../shared/data/mnist)
set -euo pipefail
runs=${RUNS_DIR:-runs/mnist_temperature}
data=${DATA_DIR:-${KDJAX_MNIST_DIR:-../shared/data/mnist}}
results=experiments/results/mnist_temperature

python -m kdjax.main --config=configs/mnist/teacher.py --config.dataset.data_dir="$data" \
    --workdir="$runs/teacher"
t0=$SECONDS
python -m kdjax.sweep --sweep=experiments/sweeps/mnist_temperature.py --workdir="$runs/grid" \
    --set=teacher.workdir="$runs/teacher" --set=dataset.data_dir="$data"
grid_wall=$((SECONDS - t0))
t0=$SECONDS
python -m kdjax.main --config=configs/mnist/kd.py --config.distill.temperature=4.0 \
    --config.dataset.data_dir="$data" --config.teacher.workdir="$runs/teacher" \
    --workdir="$runs/separate/temperature=4.0,seed=0"
separate_wall=$((SECONDS - t0))

echo "grid of 15 students: $grid_wall s wall; one separate run: $separate_wall s wall" \
    | tee "$results/wall_seconds.txt"
bash experiments/collect_mnist_temperature.sh "$runs"
