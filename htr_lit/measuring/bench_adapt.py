"""How long `htr-adapt` takes for a user's few words, end to end (checkpoint load, reading and checking the CSV,
fine-tuning with its held-out words and refit, saving), as the command runs it.

    python -m htr_lit.measuring.bench_adapt [--writer 11] [--words 50] [--shipped recognizer_separable | --ckpt PATH]
        [--threads 2] [--repeats 3] [--out docs/adaptation/timing.json]

Each run's record says which step the held-out words chose: 0 (the base read them best) skips the refit, the
cheaper path. The words are the first `--words` of one DHSD writer (`$HTR_DHSD_DIR`), written to a labels CSV in a
temporary folder that names the images where they are (`allow_absolute=true`). Time it on an idle machine: torch's
threads slow down many times over when another process competes for a core.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def write_words(labels: Path, writer: str, n: int, out: Path) -> int:
    """The first `n` rows of `writer` in DHSD's labels CSV -> `out` (file_name absolute, text); rows written."""
    with labels.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["writer_id"] == writer][:n]
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "text"])
        for r in rows:
            w.writerow([str((labels.parent / r["file_name"]).resolve()), r["text"]])
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.measuring.bench_adapt", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writer", default="11", help="a DHSD writer id")
    p.add_argument("--words", type=int, default=50)
    p.add_argument("--shipped", default="recognizer_separable")
    p.add_argument("--ckpt", type=Path, default=None,
                   help="adapt this checkpoint instead (e.g. a writer fold's model, for a writer it never saw)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("docs/adaptation/timing.json"))
    args = p.parse_args(argv)
    import torch

    from htr_lit.adaptation.job import adapt
    from htr_lit.config import compose_config, shown_path
    from htr_lit.data.real.dhsd import dhsd_labels
    from htr_lit.measuring.bench import machine

    torch.set_num_threads(args.threads)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "labels.csv"
        n = write_words(dhsd_labels(), args.writer, args.words, csv_path)
        for i in range(args.repeats):
            model = [f"ckpt_path={args.ckpt}"] if args.ckpt else [f"shipped={args.shipped}"]
            cfg = compose_config("adapt", [f"labels={csv_path}", f"out={Path(tmp) / f'out{i}'}", "allow_absolute=true",
                                           "progress=false", *model])
            start = time.perf_counter()
            record = adapt(cfg)
            runs.append({"wall_s": round(time.perf_counter() - start, 1), "step": record["step"],
                         "before": record["before"], "after": record["after"]})
            print(f"run {i + 1}: {runs[-1]['wall_s']:.1f} s", flush=True)
    result = {
        "command": shlex.join(["python", "-m", "htr_lit.measuring.bench_adapt", *argv]),
        "machine": machine(args.threads),
        "model": shown_path(args.ckpt) if args.ckpt else f"shipped:{args.shipped}", "writer": args.writer, "words": n,
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"htr-adapt on {n} words of writer {args.writer}: median {result['median_wall_s']:.1f} s of "
          f"{args.repeats} runs, {args.threads} threads -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
