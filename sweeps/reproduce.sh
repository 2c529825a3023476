#!/usr/bin/env bash
# The headline ablation end to end: data once -> encoder pre-trained once -> sweep (resumable) ->
# speeds re-timed alone -> report.
#   PRESET=cpu   (default) 11 configurations x 3 seeds x 6 epochs, 2 jobs in parallel: under 2 h on
#                2 cores -> docs/ablation.md (docs/results.md links it)
#   PRESET=smoke the same pipeline cut to minutes (1 seed, 20 batches) -> <sweep dir>/results.md
#   PRESET=long  BiLSTM vs the reference design trained 3x longer (18 epochs, 2 seeds) from the cpu
#                preset's encoder: ~35 min -> docs/ablation_long.md
#   PRESET=gpu   4x longer training, one job at a time on one GPU -> docs/results_gpu.md
#   PRESET=cv    the ablation over writer folds with the DHSD recipe (htr_lit/cv/ablation.py):
#                8 configurations x folds 2,3,4, ~60 min a fold, 2 at a time: ~12 h -> docs/ablation_cv.md,
#                resumable, the recipes' own cv folds are reused
#   PRESET=cv_smoke  the same driver cut to minutes (fold 0, 1 epoch of 5 batches) -> outputs/ablation_cv_smoke
# Environment: PY (python), SWEEP_DIR (default outputs/sweeps/<sweep>), PRETRAIN_DIR (default
# <SWEEP_DIR>_pretrain), OUT (folder for the report). Extra arguments are Hydra overrides for every
# job. Re-running the same command skips finished steps and jobs and resumes interrupted ones.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PRESET=${PRESET:-cpu}
case "$PRESET" in  # the writer-fold ablation has its own driver; the five steps below are not for it
  cv)       CV_OUT=(); [ -n "${OUT:-}" ] && CV_OUT=(--out "$OUT")
            exec "$PY" -m htr_lit.cv.ablation "${CV_OUT[@]}" "$@" ;;
  cv_smoke) SMOKE_DIR=${SWEEP_DIR:-outputs/ablation_cv_smoke}  # never docs/ nor outputs/cv (real folds)
            exec "$PY" -m htr_lit.cv.ablation --folds 0 --jobs 1 --cv-root "$SMOKE_DIR/cv" \
              --out "${OUT:-$SMOKE_DIR}" trainer.max_epochs=1 trainer.limit_train_batches=5 \
              trainer.limit_val_batches=2 trainer.limit_test_batches=2 data_sources.names.max_train=200 "$@" ;;
esac
SPEED=()  # extra arguments of the speed pass (step 4)
TITLE="Dilated convolutions vs BiLSTM: headline ablation on DHSD"
case "$PRESET" in
  cpu)   SWEEP=reproduce;       NAME=ablation;    DEFAULT_OUT=docs
         PRETRAIN=() ;;
  smoke) SWEEP=reproduce_smoke; NAME=results;     DEFAULT_OUT=
         PRETRAIN=(trainer.max_epochs=1 trainer.limit_train_batches=30 trainer.limit_val_batches=4 trainer.limit_test_batches=2)
         SPEED=(--rounds 1 --repeats 3) ;;  # a smoke check of the speed pass, not a measurement
  long)  SWEEP=reproduce_long;  NAME=ablation_long; DEFAULT_OUT=docs
         PRETRAIN=(); PRETRAIN_DIR=${PRETRAIN_DIR:-outputs/sweeps/reproduce_pretrain}  # the cpu preset's encoder
         TITLE="Dilated convolutions vs BiLSTM: 3x longer training" ;;
  gpu)   SWEEP=reproduce_gpu;   NAME=results_gpu; DEFAULT_OUT=docs
         PRETRAIN=(trainer=gpu trainer.max_epochs=12 trainer.max_time=00:01:00:00 data.num_workers=4) ;;
  *) echo "PRESET must be cpu, smoke, long, gpu, cv or cv_smoke (got '$PRESET')" >&2; exit 2 ;;
esac
SWEEP_DIR=${SWEEP_DIR:-outputs/sweeps/$SWEEP}
PRETRAIN_DIR=${PRETRAIN_DIR:-${SWEEP_DIR}_pretrain}
OUT=${OUT:-${DEFAULT_OUT:-$SWEEP_DIR}}
ENCODER="$PRETRAIN_DIR/checkpoints/best.ckpt"
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
start=$(date +%s)
elapsed() { echo "$(( ($(date +%s) - start) / 60 )) min"; }

echo ">> [1/5] data (synthetic words rendered once, then reused by every job)"
fixed=()  # the extra overrides without sweeps (key=a,b), which a single composed config cannot take
for arg in "$@"; do [[ "$arg" == *,* ]] || fixed+=("$arg"); done
"$PY" -m htr_lit.runs.prepare_data "sweep=$SWEEP" experiment=ablation/dilated "${fixed[@]}"

echo ">> [2/5] encoder pre-trained once on the synthetic words -> $PRETRAIN_DIR ($(elapsed))"
if "$PY" -c 'import sys; from htr_lit.runs.records import read_metrics; r = read_metrics(sys.argv[1]); sys.exit(not r or r.get("status") != "ok")' \
     "$PRETRAIN_DIR" && [ -f "$ENCODER" ]; then
  echo "   done before: $ENCODER"
else  # resume=true continues a killed pre-training from its last.ckpt
  "$PY" -m htr_lit.train experiment=pretrain_synthetic "hydra.run.dir=$PRETRAIN_DIR" resume=true "${PRETRAIN[@]}"
fi

echo ">> [3/5] sweep $SWEEP -> $SWEEP_DIR ($(elapsed))"
"$PY" -m htr_lit.train -m "sweep=$SWEEP" "hydra.sweep.dir=$SWEEP_DIR" "pretrained_encoder=$ENCODER" "$@"
echo ">> [4/5] inference speed of every model, re-timed alone (the sweep ran two jobs side by side) ($(elapsed))"
"$PY" -m htr_lit.measuring.bench_speed "$SWEEP_DIR" --threads 1 "${SPEED[@]}"

echo ">> [5/5] report -> $OUT/$NAME.md ($(elapsed))"
preamble=$(mktemp)
trap 'rm -f "$preamble"' EXIT
{
  if [ "$PRESET" = long ]; then
    echo "Protocol of the headline ablation ([sweeps/protocol.md](../sweeps/protocol.md), the same pre-trained" \
         "encoder file), with only the BiLSTM and the reference dilated design, 2 seeds, and 18 epochs instead of 6."
  else
    cat sweeps/protocol.md
  fi
  echo
  echo "This run: preset \`$PRESET\` (\`conf/sweep/$SWEEP.yaml\`), command \`make reproduce PRESET=$PRESET\`" \
       "(\`bash sweeps/reproduce.sh $*\`); $(nproc) CPU cores," \
       "torch $("$PY" -c 'import torch; print(torch.__version__)'); report written $(date -u +%Y-%m-%dT%H:%MZ)."
  "$PY" - "$SWEEP" "$PRETRAIN_DIR" "$SWEEP_DIR" "${fixed[@]}" <<'PYEOF'
import json, sys
from pathlib import Path
from hydra import compose, initialize_config_dir
from htr_lit.config import CONFIG_DIR
with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
    cfg = compose(config_name="train", overrides=[f"sweep={sys.argv[1]}", *sys.argv[4:]], return_hydra_config=True)
p = cfg.hydra.sweeper.params
n = len(str(p.experiment).split(",")) * len(str(p.seed).split(","))
par = cfg.hydra.launcher.get("n_jobs", 1)
limit = cfg.trainer.get("limit_train_batches")
print(f"Every job: {cfg.trainer.max_epochs} epoch(s){f' of {limit} batches' if limit else ''} "
      f"(safety net `trainer.max_time={cfg.trainer.max_time}`); {n} jobs, {par} in parallel, "
      f"torch threads per job: {cfg.torch_threads or 'default'}.")
pre = json.loads((Path(sys.argv[2]) / "metrics.json").read_text())
print(f"The pre-trained encoder (`{sys.argv[2]}`): CNN-only model, {pre.get('epochs')} epochs on the synthetic "
      f"words in {pre.get('time/total_s', 0) / 60:.1f} min; synthetic val CER {100 * pre['val/cer']:.2f} %, "
      f"test CER {100 * pre['test/cer']:.2f} %.")
from htr_lit.results.sweep_results import load_jobs  # job times from the records: right after a resumed run too
jobs = [j for j in load_jobs(sys.argv[3]) if j.status == "ok"]
job_s = sum(float(j.metrics.get("time/total_s", 0)) for j in jobs)
print(f"The {len(jobs)} finished jobs took {job_s / 60:.0f} min of job time in all, {job_s / 60 / par:.0f} min "
      f"at {par} in parallel (each job's `time/total_s`: data, training, validation, test).")
PYEOF
} > "$preamble"
"$PY" -m htr_lit.results.report "$SWEEP_DIR" --out "$OUT" --name "$NAME" --baseline bilstm \
  --title "$TITLE" --preamble "$preamble" > /dev/null
echo ">> written $OUT/$NAME.md (+ .csv, .png); sweep folder $SWEEP_DIR"
echo ">> done in $(elapsed)"
