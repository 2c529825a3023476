#!/usr/bin/env bash
# Copy the small records of writer cross-validation runs (no checkpoints, no progress logs) from
# outputs/cv/ into docs/cv/, so that the figures behind docs/unseen_writers.md and docs/results.md are kept
# in git: per fold cv_job.json (its command), metrics.json (figures, learning curve), per_writer*.json,
# csv/metrics.csv; per run the cv*.json/md tables.
# Restoring them (`cp -r docs/cv/. outputs/cv/`) lets `python -m htr_lit.cv` and
# `python -m htr_lit.cv.ablation --report-only` rebuild their tables without retraining
# (re-scoring with another decoder needs the checkpoints, which stay in outputs/).
#   bash scripts/keep_cv_records.sh [SRC=outputs/cv] [DEST=docs/cv]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-outputs/cv}
DEST=${2:-docs/cv}
[ -d "$SRC" ] || { echo "error: $SRC: no cross-validation runs here" >&2; exit 2; }
mkdir -p "$DEST"
DEST_ABS=$(cd "$DEST" && pwd)
# A fold still training (or failed) is left out: its metrics.json does not say "status": "ok" yet.
skipped=0
while IFS= read -r -d '' f; do
  fold=$(printf '%s\n' "$f" | grep -oE '^\./([^/]+/)*fold_[0-9]+' || true)
  if [ -n "$fold" ] && ! grep -qs '"status": "ok"' "$SRC/$fold/metrics.json"; then
    skipped=$((skipped + 1)); continue
  fi
  (cd "$SRC" && cp --parents "$f" "$DEST_ABS/")
done < <(cd "$SRC" && find . -type f \( -name 'cv*.json' -o -name 'cv*.md' -o -name metrics.json -o -name 'per_writer*.json' \
  -o -name cv_job.json -o -name metrics.csv \) -not -path '*/checkpoints/*' -print0)
python3 scripts/relativize_records.py "$DEST" >/dev/null  # the records name repo-relative paths, no machine's
[ "$skipped" -eq 0 ] || echo "left out $skipped file(s) of folds not finished ok (still training or failed)"
echo "kept $(find "$DEST" -type f | wc -l) record files in $DEST ($(du -sh "$DEST" | cut -f1))"
