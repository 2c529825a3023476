#!/usr/bin/env bash
# The headline ablation end to end: data once -> sweep (resumable) -> speeds re-timed alone -> report.
#   PRESET=cpu   (default) 30 jobs x 4 min budget, 2 in parallel: under 2 h on 2 cores -> docs/ablation.md,
#                spliced into docs/results.md between its ablation markers (the other sections stay)
#   PRESET=smoke 10 jobs x 20 s budget, 1 seed: a pipeline check in minutes -> <sweep dir>/results.md
#   PRESET=gpu   30 jobs x 15 min on one GPU -> docs/results_gpu.md
# Environment: PY (python), SWEEP_DIR (default outputs/sweeps/<sweep>), OUT (folder for results.md).
# Extra arguments are Hydra overrides for every job. Re-running the same command skips finished jobs
# and resumes interrupted ones (same SWEEP_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PRESET=${PRESET:-cpu}
case "$PRESET" in
  cpu)   SWEEP=reproduce;       NAME=ablation;    DEFAULT_OUT=docs ;;
  smoke) SWEEP=reproduce_smoke; NAME=results;     DEFAULT_OUT= ;;
  gpu)   SWEEP=reproduce_gpu;   NAME=results_gpu; DEFAULT_OUT=docs ;;
  *) echo "PRESET must be cpu, smoke or gpu (got '$PRESET')" >&2; exit 2 ;;
esac
SWEEP_DIR=${SWEEP_DIR:-outputs/sweeps/$SWEEP}
OUT=${OUT:-${DEFAULT_OUT:-$SWEEP_DIR}}
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
start=$(date +%s)

echo ">> [1/4] data (synthetic words rendered once, then reused by every job)"
fixed=()  # the extra overrides without sweeps (key=a,b), which a single composed config cannot take
for arg in "$@"; do [[ "$arg" == *,* ]] || fixed+=("$arg"); done
"$PY" sweeps/prepare_data.py "sweep=$SWEEP" experiment=ablation/dilated "${fixed[@]}"

echo ">> [2/4] sweep $SWEEP -> $SWEEP_DIR"
"$PY" -m htr_lit.train -m "sweep=$SWEEP" "hydra.sweep.dir=$SWEEP_DIR" "$@"
minutes=$(( ($(date +%s) - start) / 60 ))

echo ">> [3/4] inference speed of every model, re-timed alone (the sweep ran two jobs side by side)"
"$PY" sweeps/bench_speed.py "$SWEEP_DIR" --threads 1

echo ">> [4/4] report -> $OUT/$NAME.md"
preamble=$(mktemp)
trap 'rm -f "$preamble"' EXIT
{
  cat sweeps/protocol.md
  echo
  echo "This run: preset \`$PRESET\` (\`conf/sweep/$SWEEP.yaml\`), command \`make reproduce PRESET=$PRESET\`" \
       "(\`bash sweeps/reproduce.sh $*\`); $(nproc) CPU cores," \
       "torch $("$PY" -c 'import torch; print(torch.__version__)'); finished $(date -u +%Y-%m-%dT%H:%MZ)" \
       "after $minutes min of data + sweep."
  "$PY" - "$SWEEP" "${fixed[@]}" <<'PYEOF'
import sys
from hydra import compose, initialize_config_dir
from htr_lit.config import CONFIG_DIR
with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
    cfg = compose(config_name="train", overrides=[f"sweep={sys.argv[1]}", *sys.argv[2:]], return_hydra_config=True)
p = cfg.hydra.sweeper.params
n = len(str(p.experiment).split(",")) * len(str(p.seed).split(","))
par = cfg.hydra.launcher.get("n_jobs", 1)
print(f"Per-job training budget `trainer.max_time={cfg.trainer.max_time}`, {n} jobs, {par} in parallel, "
      f"torch threads per job: {cfg.torch_threads or 'default'}.")
PYEOF
} > "$preamble"
"$PY" -m htr_lit.report "$SWEEP_DIR" --out "$OUT" --name "$NAME" --baseline bilstm \
  --title "Dilated convolutions vs BiLSTM: headline ablation on DHSD" --preamble "$preamble" > /dev/null
echo ">> written $OUT/$NAME.md (+ .csv, .png); sweep folder $SWEEP_DIR"
if [ "$NAME" = ablation ]; then  # docs/results.md also holds other tables (decoders, single runs)
  "$PY" sweeps/splice_results.py "$OUT/$NAME.md" "$OUT/results.md"
fi
