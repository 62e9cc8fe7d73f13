# Shell helpers of the study scripts (sourced): what a finished run leaves in
# experiments/results/, and whether its wall time covers the whole run.

# resumed RUN_DIR: a note when RUN_DIR already holds a checkpoint, so that the
# wall time measured from here on is the last segment's, not the run's.
resumed() {
  if compgen -G "$1/checkpoints/[0-9]*" > /dev/null; then
    echo "resumed from a checkpoint: the wall time of the last segment only"
  fi
}

# collect OUT RUN_DIR RUNS [SECONDS [NOTE]]: the run's small outputs
# (metrics.json, config.json, predictions/test.npz, wall time) into OUT; the
# committed files name the runs folder as $RUNS_DIR, not this machine's path.
collect() {
  local out=$1 run=$2 runs=$3
  mkdir -p "$out/predictions"
  cp "$run/metrics.json" "$run/config.json" "$out/"
  sed -i "s|\"$runs/|\"\$RUNS_DIR/|g" "$out/metrics.json" "$out/config.json"
  cp "$run/predictions/test.npz" "$out/predictions/"
  [ -z "${4:-}" ] || printf '%s\n%s' "$4" "${5:-}" > "$out/wall_seconds.txt"
}

# finished RUN_DIR: whether RUN_DIR holds a finished run's metrics.json (an
# eval of a killed run writes one with "finished": false).
finished() {
  [ -f "$1/metrics.json" ] && ! grep -q '"finished": *false' "$1/metrics.json"
}
