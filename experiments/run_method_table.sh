#!/usr/bin/env bash
# The CIFAR-10 CNN pair's method table (docs/reproducing.md) for one seed
# whose Table 2 rows are committed: the seed's teacher re-trained from its
# committed config into RUNS_DIR (skipped if there; first its first epoch
# alone, which must equal the committed teacher's bit for bit, then the
# whole teacher, which must equal the committed teacher_s<seed> by
# params_sha256, or nothing is distilled from it: experiments/
# teacher_check.py), then the method rows beyond Table 2's not yet collected
# in experiments/results/cifar10_cnn/runs/: the rows that can share a program
# as programs sharing the teacher's forward pass (experiments/run_study.sh's
# a+b+c rows), then the rows that train in stages, alone. The default
# programs are sized to finish within a session of a few hours on 2 CPU
# cores (a program is collected only when all its rows have finished): the
# rows that read the teacher's embedding from the cache (cc+pkt+crd), the
# logit rows in two programs, then the feature rows whose teacher maps run
# live each alone (on a CPU the five as one program were slower than the
# five alone in turn: docs/reproducing.md), FT and AB (stages), ReviewKD
# last (its fusion modules: about 2.5 h alone on 2 cores).
#
# Usage: bash experiments/run_method_table.sh SEED [PROGRAM ...]
#   PROGRAM: rows joined by + (default: the programs and rows above)
#   env: RUNS_DIR (default runs/cifar10_cnn_s<seed>), DATA_DIR; RESULTS with
#        EXTRA (a reduced run must not be collected beside the full-size rows);
#        REDRAW=1 where this machine cannot re-make the committed teacher:
#        the seed re-drawn (docs/reproducing.md), its teacher trained here
#        (refused where its first epoch or its params equal the committed
#        one's, or differ from a re-drawn teacher already collected), then
#        KD and the PROGRAMs distilled from it, collected apart in
#        experiments/results/cifar10_cnn/redrawn/runs/
set -euo pipefail
seed=${1:?usage: run_method_table.sh SEED [PROGRAM ...]}
shift
committed=$(dirname "$0")/results/cifar10_cnn/runs/teacher_s$seed/metrics.json
if [ ! -f "$committed" ]; then
  echo "kdjax: error: no committed teacher of seed $seed ($committed); expected a seed of Table 2" >&2
  exit 2
fi
if [ -n "${REDRAW:-}" ] && { [ "$REDRAW" != 1 ] || [ -n "${RESULTS:-}${EXTRA:-}" ]; }; then
  echo "kdjax: error: REDRAW=$REDRAW RESULTS=${RESULTS:-} EXTRA=${EXTRA:-}; expected REDRAW=1 alone (a re-drawn seed trains full size into cifar10_cnn/redrawn)" >&2
  exit 2
fi
if [ -n "${EXTRA:-}" ] && [ -z "${RESULTS:-}" ]; then
  echo "kdjax: error: EXTRA=$EXTRA would collect reduced rows into the full-size results; expected RESULTS=<another folder> with it" >&2
  exit 2
fi
export RUNS_DIR=${RUNS_DIR:-runs/cifar10_cnn_s$seed}
data=${DATA_DIR:-../shared/data/cifar10-jpeg}
here=$(dirname "$0")
programs=("$@")
[ ${#programs[@]} -gt 0 ] || programs=(
  cc+pkt+crd kd_ls+dkd_ls+dist+dist_ls mlkd+mlkd_ls+ctkd sp nst vid kdsvd ft ab reviewkd)
teacher=(--config=configs/cifar10_cnn/teacher.py --config.seed="$seed" --config.dataset.data_dir="$data")
source "$here/collect.sh"
# The teacher in RUNS_DIR is checked against the committed one (REDRAW: must
# differ from it, or equal the re-drawn one already collected): first its
# first epoch alone, whenever the teacher is unfinished (also before a
# resumed one goes on), a few minutes, not the whole teacher's 44-66
# (2,651-3,958 training s in table2.md), since on another kind of machine
# epoch 1 already differs bit for bit (docs/reproducing.md); then its params.
reference=$committed first=first_epoch whole=params
if [ -n "${REDRAW:-}" ]; then
  out=$here/results/cifar10_cnn/redrawn/runs/teacher_s$seed
  if [ -f "$out/metrics.json" ]; then  # its rows are distilled from that teacher
    reference=$out/metrics.json first=redrawn_first_epoch whole=redrawn
  else
    first=redraw_first_epoch whole=redraw_params
  fi
fi
if ! finished "$RUNS_DIR/teacher"; then
  # The probe's workdir is this script's own scratch, made anew each time
  # (one left by another machine would mislead).
  rm -rf "$RUNS_DIR/teacher_epoch1"
  python -m kdjax.main "${teacher[@]}" --config.train.epochs=1 --workdir="$RUNS_DIR/teacher_epoch1"
  python "$here/teacher_check.py" "$first" "$reference" "$RUNS_DIR/teacher_epoch1/metrics.json"
  t0=$SECONDS note=$(resumed "$RUNS_DIR/teacher")
  python -m kdjax.main "${teacher[@]}" --workdir="$RUNS_DIR/teacher"
  wall=$((SECONDS - t0))
fi
python "$here/teacher_check.py" "$whole" "$reference" "$RUNS_DIR/teacher/metrics.json"
if [ -n "${REDRAW:-}" ]; then
  [ -f "$out/metrics.json" ] || collect "$out" "$RUNS_DIR/teacher" "$RUNS_DIR" "${wall:-}" "${note:-}"
  RESULTS=cifar10_cnn/redrawn DATA_DIR=$data bash "$here/run_study.sh" cifar10_cnn "$seed" kd "${programs[@]}"
else
  DATA_DIR=$data bash "$here/run_study.sh" cifar10_cnn "$seed" "${programs[@]}"
fi
