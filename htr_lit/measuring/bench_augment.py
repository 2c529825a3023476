"""Time the training augmentation presets on real word images: ms an image on one core, median of runs.

Reads the first `--images` rows of a labels CSV (default: DHSD in ../shared), preprocesses them as the
DHSD recipes do (crop to the ink, height 64), then applies each preset to every image, `--repeats` times.

    python -m htr_lit.measuring.bench_augment [--labels ../shared/data/dhsd/labels.csv] [--images 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from htr_lit.data.augment import build_augment
from htr_lit.data.preprocess import Preprocess


def time_presets(images: Sequence[np.ndarray], presets: Sequence[str], repeats: int) -> dict[str, float]:
    """Median ms an image of each preset over `repeats` passes (presets interleaved within each pass)."""
    runs: dict[str, list[float]] = {p: [] for p in presets}
    for _ in range(repeats):
        for preset in presets:
            augment = build_augment(preset) or (lambda img: img)  # "none": no augmentation
            start = time.perf_counter()
            for img in images:
                augment(img)
            runs[preset].append((time.perf_counter() - start) * 1e3 / len(images))
    return {p: statistics.median(v) for p, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=Path("../shared/data/dhsd/labels.csv"))
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--presets", nargs="+", default=["light", "handwriting"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(args.labels, encoding="utf-8") as f:
        names = [row["file_name"] for row in csv.DictReader(f)][: args.images]
    pre = Preprocess(crop_ink=True)
    images = [pre.load(args.labels.parent / n) for n in names]
    for preset, ms in time_presets(images, args.presets, args.repeats).items():
        print(f"{preset}: {ms:.2f} ms an image (median of {args.repeats}, {len(images)} images, one core)")


if __name__ == "__main__":
    main()
