"""GPU check (`bash scripts/gpu_check.sh`): mixed-precision trainings, DDP and the speed benchmarks on a GPU box.

    python -m htr_lit.measuring.gpu_check [--dry-run] [--cpu-smoke] [--budget 450] [--out docs/performance_gpu.json]

Runs, each in its own process with a timeout, within one time budget (default 450 s, so that the whole check
with start-up stays under 8 minutes and can be rerun within a 15-minute lease): a bf16-mixed and a 16-mixed
training (`--steps` batches of 48 of the dilated recipe on the synthetic words, then validation and test), a 2-GPU DDP
training when two GPUs are visible, the model speed benchmark (`htr_lit.measuring.bench --device cuda`, 32-true
and bf16-mixed) and the length benchmark (`bench_length --device cuda`). Every step's command, exit
status, wall time and figures go to OUT (written after each step, so a killed check leaves what it did).
Without CUDA it stops and says how to install a CUDA torch. `--dry-run` prints the steps; `--cpu-smoke` runs
them all on the CPU with tiny models (what the tests run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from htr_lit.config import project_root

MIN_STEP_S = 20  # a step is not started with less budget left than this
NO_CUDA = """no CUDA device: torch {version} ({build}) sees none.
On a GPU machine, install a CUDA build of torch into the venv, then rerun this script:
    make setup TORCH_SPEC="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124"
  (pick the wheel for the machine's driver from https://pytorch.org/get-started/locally/; on an existing
  .venv: .venv/bin/pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124)
and check: .venv/bin/python -c "import torch; print(torch.cuda.is_available())"
Without a GPU: --cpu-smoke runs every step on the CPU with tiny models, --dry-run lists them."""


@dataclass
class Step:
    name: str
    cmd: list[str]
    timeout_s: int
    result_file: str | None = None  # JSON the step writes (metrics.json, performance*.json): its figures
    status: str = "pending"  # ok | failed | timeout | skipped
    reason: str = ""
    rc: int | None = None
    wall_s: float | None = None
    result: dict = field(default_factory=dict)
    log_tail: str = ""


def plan(work: Path, gpus: int, smoke: bool, steps: int, python: str = sys.executable) -> list[Step]:
    """The check's steps: two precisions, DDP when there are 2 GPUs, the two benchmarks (CPU + tiny: smoke)."""
    # One epoch of `steps` batches, then validation (early stopping needs val/cer) and test.
    train = [python, "-m", "htr_lit.train", "model/sequence=dilated", f"trainer.limit_train_batches={steps}",
             "trainer.max_epochs=1", "trainer.max_time=null", "logger=csv"]
    if smoke:  # tiny models on tiny data in the work folder, on the CPU (Lightning runs 16-mixed as bf16 there)
        train += ["debug=tiny", f"paths.data_dir={work / 'data'}"]
        device = ["trainer=cpu"]
    else:
        train += ["data.batch_size=48", f"data.source.num_workers={os.cpu_count() or 2}"]  # 333 batches of words
        device = ["trainer=gpu"]
    out: list[Step] = []
    for precision in ("bf16-mixed", "16-mixed"):
        run_dir = work / f"train_{precision}"
        out.append(Step(f"train_{precision}", [*train, *device, f"trainer.precision={precision}",
                                               f"hydra.run.dir={run_dir}"], 150, str(run_dir / "metrics.json")))
    ddp_dir = work / "train_ddp2"
    ddp = Step("train_ddp2_bf16-mixed", [*train, "trainer=ddp", "trainer.devices=2", "trainer.precision=bf16-mixed",
                                         f"hydra.run.dir={ddp_dir}"], 150, str(ddp_dir / "metrics.json"))
    if gpus < 2:
        ddp.status, ddp.reason = "skipped", f"{gpus} GPU(s) visible, DDP needs 2"
    out.append(ddp)
    bench_dir, length_dir = work / "bench", work / "bench_length"
    bench = [python, "-m", "htr_lit.measuring.bench", "--no-loader", "--out", str(bench_dir)]
    length = [python, "-m", "htr_lit.measuring.bench_length", "--out", str(length_dir), "--doc",
              str(length_dir / "performance.md")]
    if smoke:
        bench += ["--device", "cpu", "--quick", "--sequences", "dilated", "--width", "64", "--threads", "1",
                  "--override=debug=tiny"]
        length += ["--smoke"]
    else:
        bench += ["--device", "cuda", "--cuda-precision", "32-true,bf16-mixed"]  # a process per row
        length += ["--device", "cuda", "--threads", "0", "--repeats", "3"]
    out.append(Step("bench", bench, 150, str(bench_dir / "performance.json")))
    out.append(Step("bench_length", length, 120, str(length_dir / "performance_length.json")))
    return out


def run_step(step: Step, timeout_s: float, cwd: Path) -> None:
    """Run one step in a subprocess (at most `timeout_s`); fills in its status, figures and log tail."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(step.cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
        step.rc, log = proc.returncode, proc.stdout + proc.stderr
        step.status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired as err:
        step.status, step.reason = "timeout", f"stopped after {timeout_s:.0f} s"
        parts = (err.stdout, err.stderr)
        log = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in parts)
    step.wall_s = round(time.perf_counter() - start, 1)
    step.log_tail = log[-2000:]
    if step.result_file and Path(step.result_file).is_file():
        step.result = json.loads(Path(step.result_file).read_text())


def run_all(steps: list[Step], budget_s: float, write: Callable[[], None], cwd: Path,
            runner: Callable[[Step, float, Path], None] = run_step) -> None:
    """Run the pending steps in order, each within its own timeout and what is left of the budget."""
    deadline = time.monotonic() + budget_s
    for step in steps:
        if step.status != "pending":
            continue
        left = deadline - time.monotonic()
        if left < MIN_STEP_S:
            step.status, step.reason = "skipped", f"budget of {budget_s:.0f} s spent"
        else:
            print(f"[gpu_check] {step.name}: {' '.join(step.cmd[1:])}", flush=True)
            runner(step, min(step.timeout_s, left), cwd)
            print(f"[gpu_check] {step.name}: {step.status} in {step.wall_s} s {step.reason}", flush=True)
        write()


def gpu_info() -> dict:
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/gpu_check.sh", description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="print the steps, run nothing (no GPU needed)")
    p.add_argument("--cpu-smoke", action="store_true", help="every step on the CPU with tiny models (a test)")
    p.add_argument("--budget", type=float, default=450, help="seconds for all steps together (default 450)")
    p.add_argument("--steps", type=int, default=300, help="training steps per training (default 300)")
    p.add_argument("--work", type=Path, default=None, help="run folders (default outputs/gpu_check; smoke: a temp)")
    p.add_argument("--out", type=Path, default=None, help="the JSON (default docs/performance_gpu.json; smoke: WORK)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = project_root()
    if not (args.dry_run or args.cpu_smoke or torch.cuda.is_available()):
        print(NO_CUDA.format(version=torch.__version__,
                             build=f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"),
              file=sys.stderr)
        return 2
    work = args.work
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="gpu_check_")) if args.cpu_smoke else root / "outputs" / "gpu_check"
    out = args.out or (work / "performance_gpu.json" if args.cpu_smoke else root / "docs" / "performance_gpu.json")
    steps = plan(work, 0 if args.cpu_smoke else torch.cuda.device_count(), args.cpu_smoke,
                 3 if args.cpu_smoke else args.steps)
    if args.dry_run:
        for step in steps:
            print(f"{step.name} (timeout {step.timeout_s} s{', ' + step.reason if step.reason else ''}): "
                  + " ".join(step.cmd))
        return 0
    start, started = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    report = {"smoke": args.cpu_smoke, "date_utc": started, **gpu_info(), "budget_s": args.budget}

    def write() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        report.update(total_s=round(time.perf_counter() - start, 1), steps=[asdict(s) for s in steps])
        out.write_text(json.dumps(report, indent=2) + "\n")

    run_all(steps, args.budget, write, root)
    failed = [s.name for s in steps if s.status in ("failed", "timeout")]
    print(f"wrote {out} in {report['total_s']} s" + (f"; not ok: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
