"""One rule for reading htr_lit.cv's tables (full, partial, per decoder): the table written last wins a fold."""

from __future__ import annotations

import json
from pathlib import Path

from htr_lit.cv.tables import load_cv_folds


def table(folder: Path, name: str, cers: dict[int, float], written: str | None = None, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"overrides": ["experiment=x", "data.augment=handwriting"], "folds": [
        {"fold": i, "test/cer": c} for i, c in cers.items()], **extra}
    if written:
        data["written_utc"] = written
    (folder / name).write_text(json.dumps(data))


def cers(folds: list[dict]) -> dict[int, float]:
    return {f["fold"]: f["test/cer"] for f in folds}


def test_without_times_the_full_table_wins_then_partial_tables_in_name_order(tmp_path: Path) -> None:
    table(tmp_path, "cv_folds_3.json", {3: 0.10, 4: 0.40})
    table(tmp_path, "cv_folds_4.json", {4: 0.20})
    table(tmp_path, "cv.json", {0: 0.30, 3: 0.11})
    folds, used = load_cv_folds(tmp_path)
    assert cers(folds) == {0: 0.30, 3: 0.11, 4: 0.20}
    assert [Path(p).name for p in used] == ["cv_folds_3.json", "cv_folds_4.json", "cv.json"]
    assert all(f["overrides"] == ["data.augment=handwriting"] for f in folds)


def test_the_table_written_last_wins_and_other_decoders_are_apart(tmp_path: Path) -> None:
    table(tmp_path, "cv.json", {0: 0.30, 4: 0.21}, written="2026-12-01T09:00:00Z")
    table(tmp_path, "cv_folds_4.json", {4: 0.19}, written="2026-12-02T09:00:00Z")  # a retrained fold 4
    table(tmp_path, "cv_beam_folds_4.json", {4: 0.01}, decoder="beam")
    assert cers(load_cv_folds(tmp_path)[0]) == {0: 0.30, 4: 0.19}
    assert cers(load_cv_folds(tmp_path, "beam")[0]) == {4: 0.01}
    assert load_cv_folds(tmp_path / "missing") == ([], [])
