"""Re-time inference of every finished job of a sweep, one model at a time, on a fixed batch.

    python -m htr_lit.measuring.bench_speed SWEEP_DIR [--threads 1] [--width 256] [--repeats 10] [--rounds 3] [--force]

The speeds a job records while its sweep runs share the machine with the other parallel job; this
pass, run after the sweep, times each job's best checkpoint with nothing else of the sweep running,
on the same batch (64 x 1 x 64 x `--width` random pixels), all models round-robin for `--rounds`
rounds (median), and writes `throughput/serial_infer_img_s` and `throughput/serial_seq_infer_img_s`
into its metrics.json, which `htr-report` then shows as the inference speeds (the in-sweep figures
stay in the file). Jobs timed by an earlier pass are skipped (`--force` re-times them), so re-running
`make reproduce` after a finished run only rebuilds the report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from htr_lit.checkpoint import load_model
from htr_lit.results.sweep_results import load_jobs
from htr_lit.runs.records import read_metrics, write_metrics
from htr_lit.runs.throughput import inference_images_per_s


def bench_sweep(sweep_dir: Path, threads: int = 1, width: int = 256, repeats: int = 10, rounds: int = 3,
                force: bool = False) -> int:
    """Time every ok job with a checkpoint that has no serial figures yet (all of them with `force`);
    returns how many were timed.

    All models are loaded first, then timed round-robin `rounds` times (`repeats` passes each, median):
    a model's figure is the median of its rounds, so a slow spell of the machine (another process,
    frequency changes) spreads over all models instead of landing on whichever ran then.
    """
    torch.set_num_threads(threads)
    timed: list[tuple[object, dict, object, torch.Tensor, torch.Tensor]] = []
    for job in load_jobs(sweep_dir):
        ckpt = next(
            (c for c in (job.path / "checkpoints" / n for n in ("best.ckpt", "last.ckpt")) if c.is_file()), None
        )
        record = read_metrics(job.path)
        if job.status != "ok" or ckpt is None or record is None:
            continue
        if not force and "throughput/serial_infer_img_s" in record:  # timed by an earlier pass: resumable
            continue
        model, preprocess = load_model(ckpt)
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(64, 1, preprocess.img_height, width, generator=generator)  # (B, 1, H, W)
        timed.append((job, record, model, images, torch.full((64,), width)))
    speeds: list[list[dict[str, float]]] = [[] for _ in timed]
    for _ in range(rounds):
        for i, (_, _, model, images, widths) in enumerate(timed):
            speeds[i].append(inference_images_per_s(model, images, widths, repeats=repeats))
    for (job, record, _, images, _), runs in zip(timed, speeds):
        model_s = statistics.median(r["model"] for r in runs)
        seq_s = statistics.median(r["sequence"] for r in runs)
        record.update(
            {
                "throughput/serial_infer_img_s": round(model_s, 2),
                "throughput/serial_seq_infer_img_s": round(seq_s, 2),
                "throughput/serial_batch": f"64x1x{images.shape[2]}x{width}, {threads} thread(s)",
            }
        )
        write_metrics(job.path, record)
        print(
            f"{job.path.name}\t{' '.join(job.overrides)}\t{model_s:.0f} img/s\tafter CNN {seq_s:.0f} img/s", flush=True
        )
    return len(timed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as in the sweep)")
    parser.add_argument("--width", type=int, default=256, help="image width in pixels (default 256)")
    parser.add_argument("--repeats", type=int, default=10, help="timed passes per model and round, median (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds over all models, median (default 3)")
    parser.add_argument("--force", action="store_true", help="re-time jobs that already have serial figures")
    args = parser.parse_args(argv)
    n = bench_sweep(args.sweep_dir, args.threads, args.width, args.repeats, args.rounds, args.force)
    print(f"timed {n} jobs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
