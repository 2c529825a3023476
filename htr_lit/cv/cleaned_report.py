"""Does training on cleaned labels read better? The same writer folds trained twice, on the labels as published and
on labels an audit cleaned (`data.source.drop_rows=FLAGGED.csv` or `relabel_rows=`), scored on the same test
writers, against the labels as published: CER on every row, on the rows the audit did not flag and on the flagged
ones.

    python -m htr_lit.cv experiment=separable_dhsd --out outputs/cv/separable_oof
    python -m htr_lit.cv experiment=separable_dhsd 'data.source.drop_rows=${paths.root_dir}/docs/audit/F.csv' \\
        --out outputs/cv/separable_clean
    python -m htr_lit.cv.cleaned_report --cv outputs/cv/separable_oof --cleaned outputs/cv/separable_clean \\
        --flagged docs/audit/G.csv --out docs/cleaned/separable.json

`--flagged` splits the test rows; it should come from models that never trained on them (`htr-data audit --cv`).
Every fold finished in both folders is scored (or those of `--folds`); the record keeps each fold's figures, CER per
writer, the pooled figures (character errors summed over the folds) and how many writers read better and worse.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.analysis.label_audit import cer_parts, read_rows
from htr_lit.config import shown_path
from htr_lit.cv.folds import fold_list
from htr_lit.cv.summary import finished_folds
from htr_lit.data.label_fixes import read_row_list
from htr_lit.data.real.dhsd import dhsd_labels

PARTS = ("all", "not_flagged", "flagged")


def cleaning_of(folder: Path, index: int) -> list[str]:
    """The label-cleaning overrides a fold was trained with (drop_rows / relabel_rows), from its cv_job.json."""
    job = folder / f"fold_{index}" / "cv_job.json"
    if not job.is_file():
        return []
    return [a for a in json.loads(job.read_text())["command"] if a.startswith(("data.source.drop_rows=",
                                                                               "data.source.relabel_rows="))]


def pooled(parts: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Parts of several folds pooled: rows summed, CER weighted by each part's label characters."""
    out = {}
    for name in PARTS:
        chars = sum(p[name]["chars"] for p in parts)
        edits = sum(p[name]["cer"] * p[name]["chars"] for p in parts)
        rows = sum(p[name]["rows"] for p in parts)
        out[name] = {"rows": rows, "chars": chars, "cer": edits / chars if chars else 0.0}
    return out


def scored(ckpt: Path, rows: Sequence[Any], marked: Sequence[bool]) -> tuple[dict[str, Any], list[str]]:
    """The parts' CER of one model on `rows` (with label characters, for pooling), and its readings."""
    from htr_lit.inference.scoring import Reader

    readings = Reader(ckpt, threads=1).read([r.path for r in rows])
    parts = cer_parts([(p, r.text) for p, r in zip(readings, rows)], marked)
    for name, keep in (("all", None), ("not_flagged", False), ("flagged", True)):
        parts[name]["chars"] = sum(len(r.text) for r, m in zip(rows, marked) if keep is None or m == keep)
    return parts, readings


def writer_cer(rows: Sequence[Any], readings: Sequence[str]) -> dict[str, float]:
    """CER per writer of one model's readings."""
    writers = sorted({str(r.writer_id) for r in rows}, key=lambda w: (len(w), w))
    out = {}
    for w in writers:
        pairs = [(p, r.text) for r, p in zip(rows, readings) if str(r.writer_id) == w]
        out[w] = float(cer_parts(pairs, [False] * len(pairs))["all"]["cer"])
    return out


def writer_changes(folds: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many test writers the cleaned model reads better, worse and the same as the base model (CER per writer)."""
    changes = {"better": 0, "worse": 0, "same": 0}
    for f in folds:
        base, cleaned = f["per_writer"]["base"], f["per_writer"]["cleaned"]
        for w in base:
            changes["better" if cleaned[w] < base[w] else "worse" if cleaned[w] > base[w] else "same"] += 1
    return changes


def table(record: dict[str, Any]) -> str:
    head = ("| fold | rows (flagged) | CER % all: as published -> cleaned | not flagged | flagged |\n"
            "| --- | ---: | --- | --- | --- |")
    lines = [head]
    for f in [*record["folds"], {"fold": "pooled", **record["pooled"]}]:
        b, c = f["base"], f["cleaned"]
        cells = [f"{100 * b[p]['cer']:.2f} -> {100 * c[p]['cer']:.2f}" for p in PARTS]
        lines.append(f"| {f['fold']} | {b['all']['rows']} ({b['flagged']['rows']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.cleaned_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cv", type=Path, required=True, help="writer CV trained on the labels as published")
    p.add_argument("--cleaned", type=Path, action="append", required=True,
                   help="the same folds trained on cleaned labels (repeat for folds kept in several folders)")
    p.add_argument("--flagged", type=Path, required=True, help="flagged rows (htr-data audit --cv), to split the test "
                                                               "rows")
    p.add_argument("--folds", type=fold_list, default=None, metavar="I,J", help="only these folds")
    p.add_argument("--csv", type=Path, default=None, help="the labels CSV (default: DHSD's, $HTR_DHSD_DIR)")
    p.add_argument("--out", type=Path, required=True, help="the record (JSON)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    base = finished_folds(args.cv)
    cleaned: dict[int, tuple[Any, Path]] = {}
    folder_of: dict[int, Path] = {}
    for folder in args.cleaned:
        for index, found in finished_folds(folder).items():
            if index in cleaned:
                raise SystemExit(f"error: fold {index} is finished in both {folder_of[index]} and {folder}")
            cleaned[index], folder_of[index] = found, folder
    both = sorted(set(base) & set(cleaned) & set(args.folds if args.folds is not None else base))
    if not both:
        raise SystemExit(f"error: no fold finished in both {args.cv} and {' / '.join(map(str, args.cleaned))}")
    labels = args.csv or dhsd_labels()
    rows, _ = read_rows(labels)
    try:
        flagged = read_row_list(args.flagged, labels.parent)  # keyed by image path, as the labels' rows are
    except ValueError as e:
        raise SystemExit(f"error: {e}") from e
    folds = []
    for index in both:
        fold, base_ckpt = base[index]
        cleaned_fold, cleaned_ckpt = cleaned[index]
        if cleaned_fold.test_writers != fold.test_writers:
            raise SystemExit(f"error: fold {index} tests other writers in {folder_of[index]} than in {args.cv}")
        mine = [r for r in rows if r.writer_id in set(fold.test_writers)]
        marked = [os.path.normpath(r.path) in flagged for r in mine]
        base_parts, base_read = scored(base_ckpt, mine, marked)
        clean_parts, clean_read = scored(cleaned_ckpt, mine, marked)
        folds.append({"fold": index, "test_writers": list(fold.test_writers), "cleaning": cleaning_of(folder_of[index],
                      index), "cleaned_cv": shown_path(folder_of[index]), "base": base_parts, "cleaned": clean_parts,
                      "per_writer": {"base": writer_cer(mine, base_read), "cleaned": writer_cer(mine, clean_read)}})
        print(f"fold {index}: CER {100 * base_parts['all']['cer']:.2f} -> {100 * clean_parts['all']['cer']:.2f} % "
              f"({len(mine)} rows, {sum(marked)} flagged)", flush=True)
    record = {"command": shlex.join(["python", "-m", "htr_lit.cv.cleaned_report", *argv]),
              "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
              "cv": shown_path(args.cv), "cleaned_cv": [shown_path(f) for f in args.cleaned],
              "flagged": shown_path(args.flagged),
              "folds": folds, "pooled": {k: pooled([f[k] for f in folds]) for k in ("base", "cleaned")},
              "writers": writer_changes(folds)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(table(record))
    changes = record["writers"]
    print(f"writers read better with the cleaned labels: {changes['better']}, worse: {changes['worse']}, "
          f"the same: {changes['same']}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
