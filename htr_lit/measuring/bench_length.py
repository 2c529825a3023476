"""Speed against sequence length (`make bench-length`): BiLSTM vs the dilated variants on 64 px lines.

    python -m htr_lit.measuring.bench_length [--smoke] [--widths 128,256,...] [--sequences bilstm,dilated,...]
                                             [--threads 1] [--device cpu|cuda] [--out docs] [--doc docs/performance.md]

For each image width (128 .. 2048 px at height 64: a word up to a long text line) and each sequence model
(VARIANTS: the BiLSTM, the dilated reference design, dilated variants with a longer reach, TCN, CNN only), on
the experiments' default encoder: training images/s (forward + CTC + backward + AdamW step), inference
images/s and batch-1 latency, each for the whole model and for the part after the CNN alone (sequence model
+ head on precomputed encoder features: what replacing the LSTM can change). Next to them the sequence length
T (frames) and the receptive field in frames: analytic (`receptive_field_frames()`; None = the whole line) and
measured (span of the input frames with a nonzero gradient on the middle output frame), and the mean share of
the line one frame sees (`line_coverage`). Batches hold a constant number of pixels (`--train-batch` /
`--infer-batch` images at 256 px, scaled by 256 / width), so that memory stays flat along the widths. Random
pixels: the speed of these models does not depend on the content. Rates are medians of `--repeats`; one
process, models timed one after the other, `--threads` torch threads (default 1). Writes OUT/performance_length
.json and .png and a section at the end of DOC (between markers; the rest of DOC is kept).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from htr_lit.config import project_root
from htr_lit.measuring.bench import CHARSET, autocast, build_model, machine, sync
from htr_lit.models.receptive_field import empirical_rf_frames, line_coverage, total_rf
from htr_lit.runs.throughput import timed_runs

# name -> (model/sequence option, Hydra overrides): the reference design and variants that reach further.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "bilstm": ("bilstm", []),
    "dilated": ("dilated", []),  # reference: rates 1,2,4 x 2 blocks, shared kernels: RF 29 frames
    "dilated_r16_b3": ("dilated", ["model.sequence.rates=[1,2,4,8,16]", "model.sequence.num_blocks=3"]),  # 187
    # one block of 8 layers, rates up to 128: RF 511 frames (a 2048 px line) for 8/6 of the reference's convs
    "dilated_r128_b1": ("dilated", ["model.sequence.rates=[1,2,4,8,16,32,64,128]", "model.sequence.num_blocks=1"]),
    "tcn": ("tcn", []),  # rates 1,2,4,8 x 2 blocks: RF 61 frames
    "cnn_only": ("cnn_only", []),
}
WIDTHS = [128, 256, 512, 1024, 2048]
SMOKE_WIDTHS = [64, 128]
SMOKE_SEQUENCES = ["bilstm", "dilated"]


@dataclass
class LengthSettings:
    height: int = 64
    train_batch: int = 16  # images per training batch at 256 px (the experiments' batch); x 256 / width
    infer_batch: int = 64  # images per inference batch at 256 px; x 256 / width
    px_per_char: int = 20  # CTC targets: one character per 20 px of line (synthetic lines: ~18-25)
    warmup: int = 2
    repeats: int = 5
    train_iters: int = 3
    infer_iters: int = 3
    latency_iters: int = 10
    overrides: list[str] = field(default_factory=list)  # for every model (the smoke test: debug=tiny)

    @classmethod
    def smoke(cls) -> LengthSettings:
        return cls(train_batch=2, infer_batch=2, warmup=0, repeats=1, train_iters=1, infer_iters=1, latency_iters=1,
                   overrides=["debug=tiny"])

    def batches(self, width: int) -> tuple[int, int]:
        """(training, inference) batch sizes at `width`: a constant number of pixels per batch."""
        return (max(1, round(self.train_batch * 256 / width)), max(1, round(self.infer_batch * 256 / width)))


def median_rate(fn: Callable[[], object], items: int, iters: int, s: LengthSettings, device: str) -> tuple[float, list]:
    """(median, all) items per second of `iters` calls of fn per repeat, after `s.warmup` calls."""
    runs = [items * iters / t for t in timed_runs(fn, iters, s.repeats, s.warmup, lambda: sync(device))]
    return statistics.median(runs), runs


def batch(model: nn.Module, n: int, width: int, s: LengthSettings, device: str) -> dict[str, torch.Tensor]:
    """n random line images (n, 1, height, width) and CTC targets of width / px_per_char characters."""
    g = torch.Generator().manual_seed(0)
    frames = int(model.encoder.frames(torch.tensor(width)))
    chars = max(1, min(width // s.px_per_char, frames // 2))
    return {"images": torch.rand(n, 1, s.height, width, generator=g).to(device),  # (n, 1, H, W)
            "widths": torch.full((n,), width, device=device),
            "targets": torch.randint(1, len(CHARSET) + 1, (n * chars,), generator=g).to(device),
            "target_lengths": torch.full((n,), chars, device=device)}


def measure_width(model: nn.Module, width: int, s: LengthSettings, device: str, precision: str) -> dict:
    """Every figure of one model at one width: whole model and after the CNN, training/inference/latency."""
    train_n, infer_n = s.batches(width)
    opt = model._optimizer(params=model.parameters())
    tb, ib, one = (batch(model, n, width, s, device) for n in (train_n, infer_n, 1))
    with torch.no_grad():
        model.eval()
        feats = {k: model._features(b["images"], b["widths"]) for k, b in (("train", tb), ("infer", ib), ("one", one))}

    def train_step(after_cnn: bool) -> Callable[[], None]:
        def run() -> None:
            opt.zero_grad(set_to_none=True)
            with autocast(device, precision):
                out = model._decode_features(*feats["train"]) if after_cnn else model(tb["images"], tb["widths"])
            model.criterion(*out, tb["targets"], tb["target_lengths"]).backward()
            opt.step()
        return run

    def infer(b: dict, key: str, after_cnn: bool) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode(), autocast(device, precision):
                model._decode_features(*feats[key]) if after_cnn else model(b["images"], b["widths"])
        return run

    row: dict = {"width": width, "frames": int(feats["one"][1][0]), "train_batch": train_n, "infer_batch": infer_n}
    for prefix, after_cnn in (("", False), ("seq_", True)):
        model.train()
        row[f"{prefix}train_img_s"], row[f"{prefix}train_img_s_runs"] = median_rate(
            train_step(after_cnn), train_n, s.train_iters, s, device)
        model.eval()
        row[f"{prefix}infer_img_s"], row[f"{prefix}infer_img_s_runs"] = median_rate(
            infer(ib, "infer", after_cnn), infer_n, s.infer_iters, s, device)
        rate, _ = median_rate(infer(one, "one", after_cnn), 1, s.latency_iters, s, device)
        row[f"{prefix}latency_ms_b1"] = 1000 / rate
    rf = getattr(model.sequence, "receptive_field_frames", None)
    row["rf_frames"] = rf() if rf is not None else None  # None: the whole line (BiLSTM)
    row["rf_frames_measured"] = empirical_rf_frames(model.sequence, feats["one"][0].float())
    row["line_coverage"] = line_coverage(row["rf_frames"], row["frames"])
    return row


def measure(name: str, widths: Sequence[int], s: LengthSettings, device: str = "cpu",
            precision: str = "32-true") -> list[dict]:
    """The rows of one VARIANTS model over `widths` (built once, as `python -m htr_lit.train` builds it)."""
    option, overrides = VARIANTS[name]
    torch.manual_seed(0)  # the same weights each run: the measured receptive field depends on which ReLUs are open
    model, _ = build_model(option, [*overrides, *s.overrides])
    model.to(device)
    info = {"sequence": name, "option": option, "overrides": overrides, "device": device, "precision": precision,
            "params": sum(p.numel() for p in model.parameters()),
            "seq_params": sum(p.numel() for p in model.sequence.parameters()),
            "rf_pixels": total_rf(model.encoder, model.sequence)["pixels"]}
    return [{**info, **measure_width(model, w, s, device, precision)} for w in widths]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m htr_lit.measuring.bench_length", description=__doc__.splitlines()[0])
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    p.add_argument("--smoke", action="store_true", help="tiny models, widths 64,128, one repeat: a check, not figures")
    p.add_argument("--widths", type=ints, default=None, help=f"comma-separated px (default {WIDTHS})")
    p.add_argument("--sequences", default=None, help=f"comma-separated of {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0: torch's default)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per figure, median (default 5)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="32-true", choices=["32-true", "16-mixed", "bf16-mixed"])
    p.add_argument("--out", type=Path, default=project_root() / "docs", help="folder for performance_length.*")
    p.add_argument("--note", default="", help="a sentence for the section (e.g. that the machine was shared)")
    p.add_argument("--doc", type=Path, default=None, help="markdown for the section (default OUT/performance.md)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from htr_lit.measuring.bench_length_report import write

    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    s = LengthSettings.smoke() if args.smoke else LengthSettings()
    if args.repeats:
        s.repeats = args.repeats
    widths = args.widths or (SMOKE_WIDTHS if args.smoke else WIDTHS)
    names = args.sequences.split(",") if args.sequences else (SMOKE_SEQUENCES if args.smoke else list(VARIANTS))
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"--sequences: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    report = {"smoke": args.smoke, "machine": machine(torch.get_num_threads()), "settings": asdict(s),
              "widths": widths, "device": args.device, "precision": args.precision, "note": args.note, "rows": []}
    start = time.perf_counter()
    for name in names:
        for row in measure(name, widths, s, args.device, args.precision):
            report["rows"].append(row)
            print(f"{name:15s} {row['width']:5d} px T={row['frames']:4d} RF={row['rf_frames']}: train "
                  f"{row['train_img_s']:8.1f} img/s, infer {row['infer_img_s']:8.1f} img/s, b1 "
                  f"{row['latency_ms_b1']:7.2f} ms | after CNN: train {row['seq_train_img_s']:8.1f}, infer "
                  f"{row['seq_infer_img_s']:8.1f}, b1 {row['seq_latency_ms_b1']:7.2f} ms", flush=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    for path in write(report, args.out, args.doc or args.out / "performance.md"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
