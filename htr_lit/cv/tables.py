"""Read the tables `python -m htr_lit.cv` writes into a run folder: one rule for every report.

A folder holds the full table of a run over every fold (`cv.json`) and the tables of runs over some folds
(`--only 3,4`: `cv_folds_3_4.json`); another decoder's tables are `cv_<decoder>.json`, `cv_<decoder>_folds_*.json`.
A fold found in several tables is taken from the table written last, by the time the table records inside
(`written_utc`: the same after a git clone, unlike file times); tables from before that field count as older,
and among them the full table wins, then the partial tables in name order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def table_paths(folder: Path, decoder: str = "greedy") -> list[Path]:
    """`decoder`'s tables in `folder` (full and partial), in no particular order."""
    stem = "cv" if decoder == "greedy" else f"cv_{decoder}"
    paths = sorted(folder.glob(f"{stem}_folds_*.json"))
    return paths + ([folder / f"{stem}.json"] if (folder / f"{stem}.json").is_file() else [])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_cv_folds(folder: Path, decoder: str = "greedy") -> tuple[list[dict[str, Any]], list[str]]:
    """Every fold scored with `decoder` in `folder`, sorted by fold index, and the tables read (in the order
    applied: a later one replaces the folds of an earlier one). Each fold is cv.py's record plus `overrides`,
    its table's Hydra overrides other than `experiment=`."""
    tables = [(path, _read(path)) for path in table_paths(folder, decoder)]
    tables.sort(key=lambda t: (t[1].get("written_utc", ""), "_folds_" not in t[0].name, t[0].name))
    found: dict[int, dict[str, Any]] = {}
    used = []
    for path, table in tables:
        if table.get("scoring", table.get("decoder", decoder)) != decoder:  # scoring: decoder + test-time stretch
            continue
        extra = [o for o in table.get("overrides", []) if not o.startswith("experiment=")]
        folds = table.get("folds", [])
        for fold in folds:
            found[fold["fold"]] = {**fold, "overrides": extra}
        used += [str(path)] if folds else []
    return [found[i] for i in sorted(found)], used
