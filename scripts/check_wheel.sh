#!/usr/bin/env bash
# The package works when installed for real (not editable), from any folder: build the wheel, install it
# into a fresh venv outside the repo, run every console script's --help and a fast_dev_run training on a
# tiny labels CSV in a scratch folder, and check that its outputs land there (not in site-packages).
#   PY: python that builds the wheel (default .venv/bin/python, needs setuptools);
#   BASE_PY: python that creates the fresh venv (default python3); TORCH_SPEC: torch for it (torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BASE_PY=${BASE_PY:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
quiet() {  # run a command with its output in $tmp/cmd.log, shown only when it fails
  "$@" > "$tmp/cmd.log" 2>&1 || { grep -v "is ignored: it is neither" "$tmp/cmd.log" | tail -40; echo "FAIL: $*"; exit 1; }
}

echo ">> wheel (built from a copy of the sources, so no stale build/ and nothing written into the repo)"
mkdir "$tmp/src"
tar --exclude=__pycache__ -cf - pyproject.toml setup.py README.md conf htr_lit | tar -xf - -C "$tmp/src"
quiet "$PY" -m pip wheel --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src"
wheel=$(ls "$tmp"/dist/htr_lit-*.whl)
echo "   $(basename "$wheel")"

echo ">> fresh venv $tmp/venv: $TORCH_SPEC, then the wheel and its dependencies"
"$BASE_PY" -m venv "$tmp/venv"
# shellcheck disable=SC2086  # TORCH_SPEC may carry pip options (--index-url ...)
quiet "$tmp/venv/bin/pip" install $TORCH_SPEC
quiet "$tmp/venv/bin/pip" install "$wheel"

work="$tmp/work"  # a folder outside the repo, with nothing of it around
mkdir -p "$work"
cd "$work"
echo ">> console scripts from $work"
for script in htr-train htr-eval htr-predict htr-inspect htr-export; do
  "$tmp/venv/bin/$script" --help > "$tmp/help.txt" || { cat "$tmp/help.txt"; echo "FAIL: $script --help"; exit 1; }
  # the config groups are listed: the configs shipped inside the package were found
  grep -q "model/encoder: " "$tmp/help.txt" || { cat "$tmp/help.txt"; echo "FAIL: $script --help lists no config groups"; exit 1; }
done
"$tmp/venv/bin/htr-data" --help > "$tmp/help.txt" && grep -q "fetch" "$tmp/help.txt" \
  || { cat "$tmp/help.txt"; echo "FAIL: htr-data --help"; exit 1; }
site=$("$tmp/venv/bin/python" -c 'import htr_lit, pathlib; print(pathlib.Path(htr_lit.__file__).parent)')
case "$site" in "$tmp/venv/"*) ;; *) echo "FAIL: htr_lit imported from $site, not the venv"; exit 1 ;; esac

echo ">> fast_dev_run training on a tiny labels CSV"
"$tmp/venv/bin/python" - <<'PYEOF'
from pathlib import Path
from PIL import Image, ImageDraw
rows = ["file_name,text,writer_id"]
for w in range(3):
    for i, text in enumerate(["Haus", "word", "Nord", "test"]):
        img = Image.new("L", (12 * len(text) + 16, 32), 255)
        ImageDraw.Draw(img).text((8, 8), text, fill=0)
        Path(f"tiny/w{w}").mkdir(parents=True, exist_ok=True)
        img.save(f"tiny/w{w}/{i}.png")
        rows.append(f"w{w}/{i}.png,{text},w{w}")
Path("tiny/labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
PYEOF
WANDB_MODE=disabled PYTHONWARNINGS=ignore "$tmp/venv/bin/htr-train" data=csv "data.source.csv_path=$work/tiny/labels.csv" \
  data.source.val_fraction=0.34 data.source.test_fraction=0.34 \
  "model.encoder.channels=[4,8,8,8,8]" model.sequence.hidden_size=8 data.img_height=32 data.batch_size=8 \
  data.eval_batch_size=8 data.num_workers=0 logger=csv trainer.fast_dev_run=true > "$tmp/train.log" 2>&1 \
  || { tail -40 "$tmp/train.log"; echo "FAIL: htr-train fast_dev_run"; exit 1; }
metrics=$(find "$work/outputs" -name metrics.json | head -1)
[ -n "$metrics" ] || { tail -40 "$tmp/train.log"; echo "FAIL: no outputs/**/metrics.json under $work"; exit 1; }
grep -q '"status": "ok"' "$metrics" || { cat "$metrics"; echo "FAIL: $metrics is not status ok"; exit 1; }
[ ! -e "$(dirname "$site")/outputs" ] || { echo "FAIL: outputs written into site-packages"; exit 1; }
echo ">> htr-predict with the recognizer shipped inside the wheel (no ckpt_path)"
"$tmp/venv/bin/htr-predict" input="$work/tiny/w0/0.png" > "$tmp/predict.txt" 2> "$tmp/predict.err" \
  || { cat "$tmp/predict.err"; echo "FAIL: htr-predict with the shipped recognizer"; exit 1; }
grep -q "0.png	" "$tmp/predict.txt" || { cat "$tmp/predict.txt"; echo "FAIL: htr-predict printed no transcription"; exit 1; }
echo ">> htr-adapt on the tiny words (the shipped recognizer, 2 steps), then htr-predict with the adapted checkpoint"
"$tmp/venv/bin/htr-adapt" --help | grep -q "adapted.ckpt" || { echo "FAIL: htr-adapt --help"; exit 1; }
"$tmp/venv/bin/htr-adapt" labels="$work/tiny/labels.csv" out="$tmp/adapted" recipe.steps=2 progress=false \
  > "$tmp/adapt.log" 2>&1 || { tail -20 "$tmp/adapt.log"; echo "FAIL: htr-adapt"; exit 1; }
"$tmp/venv/bin/htr-predict" input="$work/tiny/w0/0.png" ckpt_path="$tmp/adapted/adapted.ckpt" > "$tmp/predict.txt" \
  2> "$tmp/predict.err" || { cat "$tmp/predict.err"; echo "FAIL: htr-predict with the adapted checkpoint"; exit 1; }
grep -q "0.png	" "$tmp/predict.txt" || { cat "$tmp/predict.txt"; echo "FAIL: htr-predict read nothing with it"; exit 1; }
echo ">> ok: installed wheel trains, adapts and predicts from $work ($(( $(date +%s) - start )) s)"
