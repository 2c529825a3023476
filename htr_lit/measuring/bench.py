"""Speed benchmark of every sequence model (`make bench`).

    python -m htr_lit.measuring.bench [--quick] [--device cpu] [--encoders compact,separable] [--out FOLDER]

For each sequence model (bilstm, dilated, cnn_only, tcn) on the experiments' default encoder
(compact; `--encoders a,b`: on each of these model/encoder options instead) at height 64 x width 256 px
(a typical rendered word; the synthetic data's median width is measured and reported next to it), on each
device: training images/s (forward + backward + AdamW step), inference images/s at batch 64
(torch.inference_mode), latency at batch 1, peak memory of the training loop, parameters and FLOPs per
image; plus this machine's fp32 matmul GFLOP/s (2048 x 2048) in the same run, and the share of it each
training loop achieves; plus the real HTRDataModule's loader images/s.

Every (model, device) is measured in a fresh subprocess (isolated allocator and thread pools; its peak
RSS is the CPU memory figure). Rates are medians over --repeats. Writes OUT/performance.json and
OUT/performance.md (`bench_markdown`; OUT defaults to the source checkout's docs/). A CUDA device, when
present, adds GPU rows; nothing else changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from htr_lit.config import project_root
from htr_lit.measuring.bench_markdown import markdown, write
from htr_lit.runs.throughput import timed_runs

SEQUENCES = ["bilstm", "dilated", "cnn_only", "tcn"]
# ~80 output classes, like the synthetic data's charset (letters, digits, umlauts, punctuation) + blank.
CHARSET = list(string.ascii_letters + string.digits + "äöüÄÖÜß.,;:!?'\"-&()/")
RESULT_TAG = "BENCH_RESULT "


@dataclass
class Settings:
    height: int = 64
    width: int = 256
    train_batch: int = 16          # the experiments' data.batch_size
    infer_batch: int = 64
    label_len: int = 8             # characters per word (CTC targets)
    warmup: int = 3
    repeats: int = 5               # medians are taken over these
    train_iters: int = 8           # steps per repeat
    infer_iters: int = 3           # batches of 64 per repeat
    latency_iters: int = 20        # single images per repeat
    overrides: list[str] = field(default_factory=list)  # extra Hydra overrides for the model (tests: tiny)

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(warmup=1, repeats=2, train_iters=2, infer_iters=1, latency_iters=3, **kw)


# ---------------------------------------------------------------------------------------------- building
def build_model(sequence: str, overrides: Sequence[str] = ()) -> tuple[nn.Module, int]:
    """The model as `python -m htr_lit.train model/sequence=...` builds it; also the config's train batch."""
    from hydra.utils import instantiate

    from htr_lit.config import compose_config

    cfg = compose_config("train", [f"model/sequence={sequence}", *overrides])
    return instantiate(cfg.model, charset=CHARSET), int(cfg.data.batch_size)


def make_batch(model: nn.Module, batch: int, s: Settings, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    frames = int(model.encoder.frames(torch.tensor(s.width)))
    n = max(1, min(s.label_len, frames // 2))
    return {
        "images": torch.rand(batch, 1, s.height, s.width, generator=g).to(device),  # (B, 1, H, W)
        "widths": torch.full((batch,), s.width, device=device),
        "targets": torch.randint(1, len(CHARSET) + 1, (batch * n,), generator=g).to(device),
        "target_lengths": torch.full((batch,), n, device=device),
    }


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(precision)
    return torch.autocast(device.split(":")[0], dtype=dtype) if dtype else contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------- FLOPs
def lstm_flops(model: nn.Module, run: Callable[[], None]) -> int:
    """Forward FLOPs of every nn.LSTM in `model` during run() (FlopCounterMode does not see the fused
    CPU/cuDNN LSTM kernels): per step, layer and direction 4 gates x (in + hidden) x hidden MACs."""
    total = 0

    def hook(m: nn.LSTM, inputs, _output) -> None:
        nonlocal total
        x = inputs[0]
        steps = x.data.shape[0] if isinstance(x, nn.utils.rnn.PackedSequence) else x.shape[0] * x.shape[1]
        dirs = 2 if m.bidirectional else 1
        for layer in range(m.num_layers):
            in_size = m.input_size if layer == 0 else m.hidden_size * dirs
            total += 2 * steps * dirs * 4 * m.hidden_size * (in_size + m.hidden_size)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.LSTM)]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total


def flops_per_image(model: nn.Module, s: Settings) -> dict[str, float]:
    """Forward and training (forward + backward) FLOPs per image at the benchmark size, on CPU in fp32."""
    batch = make_batch(model, 2, s, "cpu")
    model.train()

    def forward() -> torch.Tensor:
        log_probs, lengths = model(batch["images"], batch["widths"])
        return model.criterion(log_probs, lengths, batch["targets"], batch["target_lengths"])

    with FlopCounterMode(display=False) as fwd:
        with torch.no_grad():
            forward()
    lstm = lstm_flops(model, lambda: forward().detach())
    with FlopCounterMode(display=False) as both:
        forward().backward()
    model.zero_grad(set_to_none=True)
    # backward of an LSTM costs ~2x its forward, as for any layer of matrix products
    return {"fwd": (fwd.get_total_flops() + lstm) / 2, "train": (both.get_total_flops() + 3 * lstm) / 2,
            "lstm_fwd": lstm / 2}


# ---------------------------------------------------------------------------------------------- timing
def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def rates(fn: Callable[[], None], items: int, iters: int, s: Settings, device: str) -> list[float]:
    """Items per second of `iters` calls of fn, once per repeat (after s.warmup calls)."""
    return [items * iters / t for t in timed_runs(fn, iters, s.repeats, s.warmup, lambda: sync(device))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure(sequence: str, device: str = "cpu", precision: str = "32-true", s: Settings | None = None) -> dict:
    """Every figure for one sequence model on one device (run it in a fresh process for the memory figure)."""
    s = s or Settings()
    model, _ = build_model(sequence, s.overrides)
    params = sum(p.numel() for p in model.parameters())
    flops = flops_per_image(model, s)
    model.to(device)
    opt = model._optimizer(params=model.parameters())
    train_batch = make_batch(model, s.train_batch, s, device)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(device, precision):
            log_probs, lengths = model(train_batch["images"], train_batch["widths"])
        loss = model.criterion(log_probs, lengths, train_batch["targets"], train_batch["target_lengths"])
        loss.backward()
        opt.step()

    model.train()
    rss_before = peak_rss_mb()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    train = rates(train_step, s.train_batch, s.train_iters, s, device)
    if device.startswith("cuda"):
        peak_mb, memory_method = torch.cuda.max_memory_allocated() / 2**20, "torch.cuda.max_memory_allocated"
    else:
        peak_mb, memory_method = peak_rss_mb() - rss_before, "ru_maxrss increase during the training loop"

    model.eval()
    infer_batch, one = make_batch(model, s.infer_batch, s, device), make_batch(model, 1, s, device)

    def infer(batch: dict[str, torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode(), autocast(device, precision):
                model(batch["images"], batch["widths"])
        return run

    infer64 = rates(infer(infer_batch), s.infer_batch, s.infer_iters, s, device)
    latency = [1000 / r for r in rates(infer(one), 1, s.latency_iters, s, device)]
    train_img_s = statistics.median(train)
    return {
        "sequence": sequence,
        "overrides": list(s.overrides),
        "device": device,
        "precision": precision,
        "params": params,
        "flops_fwd_per_image": flops["fwd"],
        "flops_train_per_image": flops["train"],
        "train_img_s": train_img_s,
        "train_img_s_runs": train,
        "train_gflop_s": train_img_s * flops["train"] / 1e9,
        "infer_img_s_b64": statistics.median(infer64),
        "infer_img_s_b64_runs": infer64,
        "latency_ms_b1": statistics.median(latency),
        "peak_mem_train_mb": round(peak_mb, 1),
        "memory_method": memory_method,
        "torch_threads": torch.get_num_threads(),
    }


def matmul_gflops(device: str = "cpu", dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    """Median GFLOP/s of an n x n matmul (2 n^3 FLOPs)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    s = Settings(warmup=1, repeats=repeats)
    return statistics.median(rates(lambda: a @ b, 2 * n**3, 1, s, device)) / 1e9


# ---------------------------------------------------------------------------------------------- data loader
def loader_rates(root: Path, num_images: int, workers: Sequence[int], batch: int, repeats: int) -> list[dict]:
    """Images/s of the real HTRDataModule train loader (decoded + normalised once, cached; bucketed)."""
    from htr_lit.data.datamodule import HTRDataModule
    from htr_lit.data.sources import SyntheticSource

    source = SyntheticSource(str(root), num_train=num_images, num_val=8, num_test=8, num_workers=2)
    out = []
    for augment in ("none", "light"):
        for w in workers:
            dm = HTRDataModule(source, batch_size=batch, num_workers=w, augment=augment)
            dm.prepare_data()
            dm.setup("fit")
            widths = sorted(dm.datasets["train"].widths)
            loader = dm.train_dataloader()
            runs = []
            for r in range(repeats + 1):  # the first pass starts the workers
                start, n = time.perf_counter(), 0
                for b in loader:
                    n += len(b["texts"])
                if r:
                    runs.append(n / (time.perf_counter() - start))
            out.append({"augment": augment, "num_workers": w, "batch_size": batch, "img_s": statistics.median(runs),
                        "img_s_runs": runs, "median_width": widths[len(widths) // 2]})
    return out


# ---------------------------------------------------------------------------------------------- driver
def run_worker(args: argparse.Namespace, sequence: str, device: str, precision: str, encoder: str = "") -> dict:
    """One (model, device) measured in a fresh process; `encoder` (a model/encoder option) leads its overrides."""
    cmd = [sys.executable, "-m", "htr_lit.measuring.bench", "--worker", sequence,
           "--device", device, "--precision", precision]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--width", str(args.width)] + (["--threads", str(args.threads)] if args.threads else [])
    cmd += [f"--override={o}" for o in ([f"model/encoder={encoder}"] if encoder else []) + args.override]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=project_root())
    lines = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_TAG)]
    if proc.returncode or not lines:
        raise RuntimeError(f"{sequence} on {device} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_TAG) :])


def machine(threads: int) -> dict:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m htr_lit.measuring.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke check, not numbers to cite")
    p.add_argument("--device", default="all", choices=["all", "cpu", "cuda"], help="all: cpu, plus cuda if present")
    p.add_argument("--sequences", default=",".join(SEQUENCES), help="comma-separated model/sequence options")
    p.add_argument("--encoders", default="", help="comma-separated model/encoder options, each with every "
                   "sequence model (default: the experiments' encoder, compact)")
    p.add_argument("--cuda-precision", default="32-true,16-mixed", help="precisions for the GPU rows")
    p.add_argument("--width", type=int, default=256, help="image width in px (height is 64)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--loader-images", type=int, default=1024, help="synthetic words for the data-loader figure")
    p.add_argument("--no-loader", action="store_true", help="skip the data-loader measurement")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Hydra override for every model, repeatable (e.g. model.sequence.dims=1d)",
    )
    p.add_argument("--out", type=Path, default=project_root() / "docs", help="folder for performance.json / .md")
    p.add_argument("--worker", metavar="SEQUENCE", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="32-true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kw = {"width": args.width, "overrides": list(args.override)}
    settings = Settings.quick(**kw) if args.quick else Settings(**kw)
    if args.worker:  # one (model, device) in this fresh process
        print(RESULT_TAG + json.dumps(measure(args.worker, args.device, args.precision, settings)), flush=True)
        return 0
    devices = [("cpu", "32-true")] if args.device in ("all", "cpu") else []
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            devices += [("cuda", p) for p in args.cuda_precision.split(",")]
        elif args.device == "cuda":
            sys.exit("--device cuda: no CUDA device")
    dtypes = {"32-true": torch.float32, "16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}
    matmul = {f"{d} {p}": matmul_gflops(d, dtypes[p]) for d, p in devices}
    report = {
        "quick": args.quick,
        "machine": machine(torch.get_num_threads()),
        "settings": asdict(settings),
        "matmul_gflops": matmul,
        "models": [],
        "data_loader": [],
    }
    encoders = args.encoders.split(",") if args.encoders else [""]
    for device, precision in devices:
        for enc, seq in ((e, s) for e in encoders for s in args.sequences.split(",")):
            row = run_worker(args, seq, device, precision, enc)
            report["models"].append(row)
            print(
                f"{enc + ' ' if enc else ''}{seq:8s} {device} {precision}: train {row['train_img_s']:.1f} img/s, "
                f"infer b64 "
                f"{row['infer_img_s_b64']:.1f} img/s, b1 {row['latency_ms_b1']:.2f} ms",
                flush=True,
            )
    if not args.no_loader:
        n = 256 if args.quick else args.loader_images
        with tempfile.TemporaryDirectory(prefix="htr_bench_") as tmp:
            report["data_loader"] = loader_rates(
                Path(tmp), n, workers=[0, 2], batch=settings.train_batch, repeats=1 if args.quick else 3
            )
    for d, p in devices:  # again at the end: the machine may be shared; both figures are kept
        report["matmul_gflops_end"] = {**report.get("matmul_gflops_end", {}), f"{d} {p}": matmul_gflops(d, dtypes[p])}
    write(report, args.out)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
