"""Train on cleaned labels: drop, or relabel, the rows a label audit flagged (`htr-data audit ... --out F.csv`).

`data.source.drop_rows=F.csv` leaves the listed rows out of the train and validation splits;
`data.source.relabel_rows=F.csv` gives them the text of F's `suggestion` column (the audit's reading, or the
label of the row it was shifted from) instead. The test split is never touched, so test figures keep scoring
the labels as they were published. A list's `file_name`s are relative to the same folder as the labels CSV's
(its `image_root`, or its own folder), which is what the audit writes.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from htr_lit.data.formats import DatasetFormatError
from htr_lit.data.sample import Sample

log = logging.getLogger(__name__)

CLEANED_SPLITS = ("train", "val")


def _key(path: Path) -> str:
    return os.path.normpath(path)


def read_row_list(list_csv: str | Path, root: Path, column: str | None = None) -> dict[str, str]:
    """Image path (normalised, under `root`) -> the row's `column` value ("" without one), from a CSV with a
    `file_name` column."""
    path = Path(list_csv)
    if not path.is_file():
        raise DatasetFormatError(f"{path}: row list not found (write one with `htr-data audit ... --out {path.name}`)")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        needed = ["file_name"] + ([column] if column else [])
        missing = [c for c in needed if c not in fields]
        if missing:
            raise DatasetFormatError(f"{path}: needs the column(s) {missing} (has {fields})")
        out: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            name = (row["file_name"] or "").strip()
            if not name:
                raise DatasetFormatError(f"{path}:{line}: empty file_name")
            out[_key(root / name)] = (row[column] or "") if column else ""
    return out


def clean_splits(splits: Mapping[str, list[Sample]], root: Path, drop_rows: str | Path | None = None,
                 relabel_rows: str | Path | None = None) -> dict[str, list[Sample]]:
    """The splits with the listed rows of train and val dropped (`drop_rows`) or relabelled with their
    `suggestion` (`relabel_rows`); test and any other split as they were."""
    out = {name: list(samples) for name, samples in splits.items()}
    if drop_rows is None and relabel_rows is None:
        return out
    dropped = read_row_list(drop_rows, root) if drop_rows is not None else {}
    relabel = read_row_list(relabel_rows, root, "suggestion") if relabel_rows is not None else {}
    both = dropped.keys() & relabel.keys()
    if both:
        raise DatasetFormatError(f"{len(both)} row(s) are both to drop and to relabel, e.g. {sorted(both)[0]}")
    counts = {"dropped": 0, "relabelled": 0}
    for name in CLEANED_SPLITS:
        kept = []
        for sample in out.get(name, []):
            key = _key(sample.path)
            if key in dropped:
                counts["dropped"] += 1
                continue
            if key in relabel and relabel[key].strip():
                sample = replace(sample, text=relabel[key],
                                 origin=f"{sample.origin} (relabelled by {Path(relabel_rows).name})")
                counts["relabelled"] += 1
            kept.append(sample)
        out[name] = kept
    log.info("cleaned labels: %d train/val rows dropped, %d relabelled (%d listed; test rows untouched)",
             counts["dropped"], counts["relabelled"], len(dropped) + len(relabel))
    return out
