"""Synthetic handwritten-word dataset on disk: generated once per SyntheticSpec and reused.

This is htr-lit's default training data. Concurrent jobs (a Hydra multirun) share one copy:
`ensure_dataset` generates under a file lock into a temporary folder and renames it into place, so a
half-written dataset is never seen; a dataset made from another spec is refused, naming the differences.

Layout: root/images/{train,val,test}/NNNNNN.png, root/{train,val,test}.csv (file_name,text,font),
root/meta.json (the spec, fonts, counts, generator version).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from htr_lit.data.synth.fonts import FontInfo
from htr_lit.data.synth.samples import SPLITS, Row, make_plan, progress_bar, render_all
from htr_lit.data.synth.spec import DEFAULT_NUM_WORKERS, DEFAULT_SPEC, GENERATOR_VERSION, SyntheticSpec
from htr_lit.errors import UserError

CSV_COLUMNS = ("file_name", "text", "font")
META_FILE = "meta.json"
PREVIEW_FILE = "preview.png"


class DatasetMismatchError(UserError, ValueError):
    """A dataset already exists at the root but was generated from another spec."""


def _write_csv(path: Path, rows: Iterable[Row]) -> None:
    """Write a labels CSV (UTF-8, csv-module quoting)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


def _temp_sibling(root: Path, kind: str) -> Path:
    """A unique hidden folder next to `root` (same file system, so os.replace is atomic)."""
    return root.parent / f".{root.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _publish(tmp: Path, root: Path) -> None:
    """Move the finished dataset into place; an older dataset (or a lone preview) is replaced."""
    old: Path | None = None
    if root.exists():
        contents = {p.name for p in root.iterdir()}
        if META_FILE not in contents and not contents <= {PREVIEW_FILE}:
            raise FileExistsError(f"{root} exists and is not a synthetic dataset (no {META_FILE}); "
                                  "choose another output folder")
        if PREVIEW_FILE in contents and not (tmp / PREVIEW_FILE).exists() and META_FILE not in contents:
            os.replace(root / PREVIEW_FILE, tmp / PREVIEW_FILE)
        old = _temp_sibling(root, "old")
        os.replace(root, old)
    os.replace(tmp, root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _generate_unlocked(root: Path, spec: SyntheticSpec, num_workers: int, progress: bool) -> Path:
    """Render all splits into a temporary folder, write labels and meta.json, then move it to `root`."""
    start = time.perf_counter()
    plan, fonts = make_plan(spec)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(root, "tmp")
    try:
        for split in SPLITS:
            (tmp / "images" / split).mkdir(parents=True)
        tasks = [(split, i) for split, n in spec.counts().items() for i in range(n)]
        rows: dict[str, list[Row]] = {split: [] for split in SPLITS}
        with progress_bar(len(tasks), progress) as advance:
            for (split, _), row in zip(tasks, render_all(plan, tmp, tasks, num_workers)):
                rows[split].append(row)
                advance()
        for split, split_rows in rows.items():
            _write_csv(tmp / f"{split}.csv", split_rows)
        seconds = time.perf_counter() - start
        meta = _meta(spec, fonts, rows, num_workers, seconds)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _publish(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        total = len(tasks)
        print(f"wrote {total} word images to {root} in {seconds:.1f} s ({total / max(seconds, 1e-9):.0f} images/s)")
    return root


def _meta(
    spec: SyntheticSpec, fonts: Sequence[FontInfo], rows: dict[str, list[Row]], num_workers: int, seconds: float
) -> dict[str, Any]:
    """The content of meta.json: the spec, fonts, counts and how it was made."""
    all_chars = set("".join(text for split_rows in rows.values() for _, text, _ in split_rows))
    return {
        "generator_version": GENERATOR_VERSION,
        "args": spec.identity(),
        "fonts": [
            {"name": f.name, "family": f.family, "file": str(f.path), "missing": "".join(sorted(all_chars - f.chars))}
            for f in fonts
        ],
        "counts": {split: len(r) for split, r in rows.items()},
        "font_counts": {split: dict(sorted(Counter(row[2] for row in r).items())) for split, r in rows.items()},
        "charset": "".join(sorted(all_chars)),
        "num_workers": num_workers,
        "seconds": round(seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def read_meta(root: str | Path) -> dict[str, Any] | None:
    """The dataset's meta.json as a dict, or None when there is none."""
    path = Path(root) / META_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetMismatchError(f"{path} is not valid JSON ({err}); delete {Path(root)} to regenerate") from err


def _check_same(root: Path, meta: dict[str, Any], spec: SyntheticSpec) -> None:
    """Raise DatasetMismatchError (naming the differing keys) unless meta.json was made from `spec`."""
    stored = meta.get("args", {})
    diffs = [
        f"  {key}: {stored.get(key)!r} on disk, {value!r} requested"
        for key, value in spec.identity().items()
        if stored.get(key) != value
    ]
    if diffs:
        raise DatasetMismatchError(
            f"a synthetic dataset already exists at {root} but was generated with other arguments:\n"
            + "\n".join(diffs)
            + f"\nChoose another output folder (root) for these settings, or delete {root} to regenerate it"
            " (CLI: --overwrite)."
        )


@contextmanager
def _file_lock(path: Path, progress: bool) -> Iterator[None]:
    """An exclusive fcntl.flock on `path` (created if needed), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"waiting for another process generating the synthetic data ({path}) ...", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lock_path(root: Path) -> Path:
    return root.parent / f".{root.name}.lock"


def generate(
    root: str | Path,
    spec: SyntheticSpec = DEFAULT_SPEC,
    num_workers: int = DEFAULT_NUM_WORKERS,
    progress: bool = True,
) -> Path:
    """Generate the dataset of `spec` at `root` (replacing an older synthetic dataset there); returns `root`.

    Runs under the root's lock; written to a temporary folder first, then moved into place.
    """
    root = Path(root)
    with _file_lock(_lock_path(root), progress):
        return _generate_unlocked(root, spec, num_workers, progress)


def ensure_dataset(
    root: str | Path,
    spec: SyntheticSpec = DEFAULT_SPEC,
    num_workers: int = DEFAULT_NUM_WORKERS,
    progress: bool = True,
) -> Path:
    """Return `root` once it holds the dataset of `spec`, generating it only if it is missing.

    Raises DatasetMismatchError if a dataset made from another spec is there. Safe to call from many
    processes at once: one generates, the others wait on the lock and then reuse it.
    """
    root = Path(root)
    meta = read_meta(root)
    if meta is None:
        with _file_lock(_lock_path(root), progress):
            meta = read_meta(root)
            if meta is None:
                return _generate_unlocked(root, spec, num_workers, progress)
    _check_same(root, meta, spec)
    return root
