#!/usr/bin/env bash
# GPU check: a bf16-mixed and a 16-mixed training, 2-GPU DDP when two GPUs exist, the model and length speed
# benchmarks -> docs/performance_gpu.json, in under 8 minutes (a 450 s budget; each step has its own timeout).
# On a fresh GPU machine, from the checkout:
#   make setup TORCH_SPEC="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124"   # a CUDA torch
#   bash scripts/gpu_check.sh
# Without CUDA it says how to install it and exits 2. --dry-run lists the steps; --cpu-smoke runs them on the
# CPU with tiny models (the tests); --budget S, --steps N, --out FILE (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" -m htr_lit.measuring.gpu_check "$@"
