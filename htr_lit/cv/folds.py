"""Writer folds: the writers of a labels CSV cut into k disjoint test folds, each with validation writers drawn
from the rest (seeded, so every recipe sees the same folds)."""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FOLD_DIR = "fold_{}"  # a fold's run folder under the cross-validation folder


def writer_folds(writers: Sequence[str], k: int = 5, num_val: int = 3, seed: int = 0) -> list[Fold]:
    """k disjoint test folds covering every writer once (sizes differ by at most one), seeded.

    The validation writers of fold i are `num_val` writers drawn (seeded by fold) from the writers
    outside its test fold, so no fold ever validates or tests on a writer it trains on.
    """
    unique = sorted({str(w) for w in writers})
    if k < 2 or k > len(unique):
        raise ValueError(f"--folds {k}: need 2 <= folds <= the {len(unique)} writers")
    if num_val < 1 or len(unique) - (len(unique) + k - 1) // k - num_val < 1:
        raise ValueError(f"--val-writers {num_val}: leaves no writer to train on with {k} folds of {len(unique)}")
    order = unique[:]
    random.Random(seed).shuffle(order)
    folds = []
    for i in range(k):
        test = sorted(order[i::k])
        rest = sorted(w for w in unique if w not in test)
        val = sorted(random.Random(seed * 1000 + i).sample(rest, num_val))
        folds.append(Fold(i, tuple(test), tuple(val)))
    return folds


def read_writers(csv_path: Path) -> dict[str, list[tuple[str, str]]]:
    """writer id -> [(image path, text)] from a `file_name,text,writer_id` labels CSV."""
    out: dict[str, list[tuple[str, str]]] = {}
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "writer_id" not in reader.fieldnames:
            raise SystemExit(f"error: {csv_path}: writer cross-validation needs a writer_id column")
        for row in reader:
            out.setdefault(str(row["writer_id"]), []).append((str(csv_path.parent / row["file_name"]), row["text"]))
    return out


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: the writers it tests on and the ones that pick its best epoch."""

    index: int
    test_writers: tuple[str, ...]
    val_writers: tuple[str, ...]


def add_fold_arguments(p: argparse.ArgumentParser) -> None:
    """`--cv DIR`, `--folds I,J` and `--csv LABELS`: what a lab command over a CV folder's fold models reads."""
    p.add_argument("--cv", type=Path, required=True, help="a writer-CV folder (python -m htr_lit.cv --out DIR)")
    p.add_argument("--folds", type=fold_list, default=None, metavar="I,J",
                   help="only these folds (default: every finished one)")
    p.add_argument("--csv", type=Path, default=None, help="the labels CSV (default: DHSD's, $HTR_DHSD_DIR)")


def fold_list(text: str) -> list[int]:
    try:
        indices = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected fold indices separated by commas, e.g. 3,4") from None
    if not indices:
        raise argparse.ArgumentTypeError("expected at least one fold index, e.g. 3,4")
    return indices
