"""The summary of a cross-validation: a report over its multirun folder (`<dir>/fold_<i>/`).

    python -m htr_lit.cv.summary outputs/cv/crnn_dhsd [--decoder beam_names] [--tta [F,...]] [--csv LABELS]

Every finished fold's best checkpoint is scored per test writer (greedy: the run's own test figures, per writer
cached in `per_writer.json`; another decoder or the test-time stretch: `per_writer_<scoring>.json`), and one table
(per fold, mean ± std, CER per writer) is written to `<dir>/cv[_<scoring>][_folds_<i>_<j>].{md,json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.cv.folds import FOLD_DIR, Fold, read_writers
from htr_lit.cv.jobs import JOB_FILE, read_json
from htr_lit.inference.scoring import ALL, score_writers
from htr_lit.results.stats import mean_std
from htr_lit.runs.records import read_metrics

KEYS = ("test/cer", "test/wer", "test/word_acc")


def scoring_name(decoder: str, tta: Sequence[float] | None) -> str:
    """The name of a scoring (files per_writer_<name>.json, cv_<name>.md; greedy alone: the run's own figures)."""
    return decoder + ("_tta_" + "_".join(f"{f:g}" for f in tta) if tta else "")


def recorded_fold(fold_dir: Path, metrics: dict[str, Any]) -> Fold | None:
    """The fold a fold folder trained: from its metrics.json (`cv`, a multirun job) or its cv_job.json (records
    from before the folds were multirun jobs)."""
    info = metrics.get("cv") or (read_json(fold_dir / JOB_FILE) or {}).get("fold")
    if not info:
        return None
    index = info.get("fold", info.get("index"))
    return Fold(int(index), tuple(info["test_writers"]), tuple(info.get("val_writers", ())))


def fold_checkpoint(fold_dir: Path, recorded: str) -> Path:
    """A fold's best checkpoint: the path its metrics.json recorded, or the file of that name under the fold's
    own `checkpoints/` when the fold folder was moved or renamed since."""
    path, moved = Path(recorded), fold_dir / "checkpoints" / Path(recorded).name
    return moved if not path.is_file() and moved.is_file() else path


def finished_folds(folder: Path) -> dict[int, tuple[Fold, Path]]:
    """Fold index -> (its writers, its best checkpoint) for every fold of a CV folder that finished ok."""
    out = {}
    for fold_dir in folder.glob(FOLD_DIR.format("*")):
        metrics = read_metrics(fold_dir) or {}
        fold = recorded_fold(fold_dir, metrics)
        if fold is not None and metrics.get("status") == "ok" and metrics.get("best_ckpt"):
            out[fold.index] = (fold, fold_checkpoint(fold_dir, metrics["best_ckpt"]))
    return dict(sorted(out.items()))


def chosen_folds(folder: Path, folds: Sequence[int] | None) -> dict[int, tuple[Fold, Path]]:
    """`finished_folds`, only those of `folds` (None: all); a one-line exit when none is left."""
    chosen = {i: found for i, found in finished_folds(folder).items() if folds is None or i in folds}
    if not chosen:
        raise SystemExit(f"error: no finished fold to score in {folder}")
    return chosen


def finished_fold(folder: Path, index: int) -> tuple[Fold, Path]:
    """One finished fold's writers and best checkpoint; a one-line exit when it has not finished."""
    found = finished_folds(folder).get(index)
    if found is None:
        raise SystemExit(f"error: {folder / FOLD_DIR.format(index)}: no finished fold")
    return found



def parse_tta(spec: object) -> tuple[float, ...] | None:
    """The `--tta` option (None: not given; true: predict's default stretches; F,F,...: these); a one-line exit."""
    if spec is None:
        return None
    from htr_lit.errors import ConfigError
    from htr_lit.inference.tta import tta_factors

    try:
        return tta_factors(spec)
    except ConfigError as e:
        raise SystemExit(f"error: --tta: {e}") from e


def fold_result(fold_dir: Path, fold: Fold, rows: dict[str, list[tuple[str, str]]] | None, decoder: str = "greedy",
                tta: Sequence[float] | None = None) -> dict[str, Any] | None:
    """One fold's row of the table (None while it has no finished run); scores its test writers when no cached
    scores of this scoring exist (`rows`: writer -> [(image, text)], needed only then)."""
    metrics = read_metrics(fold_dir) or {}
    if metrics.get("status") != "ok" or not metrics.get("best_ckpt"):
        return None
    scoring = scoring_name(decoder, tta)
    greedy = scoring == "greedy"  # the training run's own test figures
    scores_file = fold_dir / ("per_writer.json" if greedy else f"per_writer_{scoring}.json")
    per_writer = read_json(scores_file)
    stale = per_writer is None or set(per_writer) - {ALL} != set(fold.test_writers)
    if stale or (not greedy and ALL not in per_writer):
        if rows is None:
            raise SystemExit(f"error: {fold_dir}: no {scores_file.name}; give the labels CSV (--csv) to score it")
        print(f"fold {fold.index}: scoring the test writers ({scoring})", flush=True)
        per_writer = score_writers(fold_checkpoint(fold_dir, metrics["best_ckpt"]),
                                   {w: rows[w] for w in fold.test_writers}, decoder=decoder,
                                   tta=tuple(tta) if tta else None)
        scores_file.write_text(json.dumps(per_writer, indent=2))
    total = per_writer.pop(ALL, None)
    figures = metrics if greedy else {f"test/{k}": total[k] for k in ("cer", "wer", "word_acc")}
    return {
        "fold": fold.index,
        "test_writers": list(fold.test_writers),
        "val_writers": list(fold.val_writers),
        "images": sum(s["images"] for s in per_writer.values()),
        "writers": per_writer,
        "epochs": metrics.get("epochs"),
        "train_s": metrics.get("time/train_s"),
        "val/cer": metrics.get("val/cer"),  # the validation writers' CER: what a choice between recipes may use
        **{k: figures[k] for k in KEYS},
    }


def summarise(folds: list[dict[str, Any]], title: str) -> str:
    """The markdown table: one row per fold, mean ± std, then CER per writer."""
    keys = (("test/cer", "CER %"), ("test/wer", "WER %"), ("test/word_acc", "word acc %"))
    lines = [
        f"## {title}",
        "",
        "| fold | test writers | images | " + " | ".join(n for _, n in keys) + " | val CER % | epochs | train min |",
        "|---|---|---|" + "---|" * len(keys) + "---|---|---|",
    ]
    for f in folds:
        cells = " | ".join(f"{100 * f[k]:.2f}" for k, _ in keys)
        val = f"{100 * f['val/cer']:.2f}" if f.get("val/cer") is not None else ""
        train_min = f"{f['train_s'] / 60:.0f}" if f.get("train_s") is not None else ""
        writers = ", ".join(f["test_writers"])
        lines.append(f"| {f['fold']} | {writers} | {f['images']} | {cells} | {val} | {f.get('epochs', '')} "
                     f"| {train_min} |")
    if len(folds) > 1:  # one fold is its own mean and has no spread
        stats = [mean_std([f[k] for f in folds]) for k, _ in keys]
        lines.append(
            "| **mean ± std** | | | " + " | ".join(f"**{100 * m:.2f} ± {100 * s:.2f}**" for m, s in stats)
            + " | | | |"
        )
    writers = sorted(((w, s) for f in folds for w, s in f["writers"].items()), key=lambda x: x[1]["cer"])
    if writers:
        lines += ["", "CER per writer, best to worst:", "", "| writer | fold | images | CER % | WER % |",
                  "|---|---|---|---|---|"]
        fold_of = {w: f["fold"] for f in folds for w in f["writers"]}
        lines += [
            f"| {w} | {fold_of[w]} | {s['images']} | {100 * s['cer']:.2f} | {100 * s['wer']:.2f} |" for w, s in writers
        ]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, results: list[dict[str, Any]], title: str, stem: str, meta: dict[str, Any]) -> str:
    """`<out>/<stem>.md` (the table) and `<stem>.json` (`meta` + the folds); returns the table."""
    table = summarise(results, title)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(table)
    record = {**meta, "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "folds": results}
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2))  # readers: the table written last wins a fold
    return table


def stem_of(scoring: str, only: Sequence[int] | None) -> str:
    return ("cv" if scoring == "greedy" else f"cv_{scoring}") + ("_folds_" + "_".join(map(str, only)) if only else "")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv.summary",
        description="Table a writer cross-validation from its folder (the fold_<i>/ runs of `python -m htr_lit.cv` "
        "or of `python -m htr_lit.train -m ... sweep=cv`): per fold, mean ± std, CER per writer.",
        epilog="Example:\n  python -m htr_lit.cv.summary outputs/cv/crnn_dhsd --decoder beam_names",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", type=Path, help="the cross-validation folder (holding fold_<i>/)")
    p.add_argument("--decoder", default="greedy", help="score the test writers with this decoder (conf/decoder)")
    p.add_argument("--tta", nargs="?", const=True, default=None, metavar="F,F,...",
                   help="score with predict's test-time stretch (`tta=true`, or these width factors)")
    p.add_argument("--csv", type=Path, default=None,
                   help="the labels CSV (writer_id column) to score folds not scored before with this scoring")
    p.add_argument("--title", default=None, help="the table's title (default: the folder's name)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tta = parse_tta(args.tta)
    folder: Path = args.folder
    if not folder.is_dir():
        raise SystemExit(f"error: {folder}: no such cross-validation folder")
    rows = read_writers(args.csv) if args.csv else None
    # a cross-validation folder, or a multirun's folder of several (`sweep=cv` over experiments: <exp>/fold_<i>)
    folders = [folder] if any(folder.glob(FOLD_DIR.format("*"))) else sorted(
        p for p in folder.iterdir() if p.is_dir() and any(p.glob(FOLD_DIR.format("*"))))
    if not folders:
        raise SystemExit(f"error: {folder}: no fold_<i>/ folder in it or in its sub-folders")
    for cv_dir in folders:
        summarise_folder(cv_dir, rows, args.decoder, tta, args.title)
    return 0


def summarise_folder(folder: Path, rows: dict[str, list[tuple[str, str]]] | None, decoder: str,
                     tta: Sequence[float] | None, title: str | None = None) -> list[dict[str, Any]]:
    """Score and table every finished fold of one cross-validation folder; its rows."""
    results = []
    for fold_dir in sorted(folder.glob(FOLD_DIR.format("*")), key=lambda p: int(p.name.rsplit("_", 1)[-1])):
        metrics = read_metrics(fold_dir) or {}
        fold = recorded_fold(fold_dir, metrics)
        result = fold_result(fold_dir, fold, rows, decoder, tta) if fold else None
        if result is None:
            print(f"{fold_dir}: no finished run", file=sys.stderr)
            continue
        results.append(result)
    if not results:
        raise SystemExit(f"error: {folder}: no finished fold (fold_<i>/metrics.json with status ok)")
    scoring = scoring_name(decoder, tta)
    title = title or f"Writer cross-validation: {folder.name}, {len(results)} folds, {scoring} decoding"
    table = write_summary(folder, results, title, stem_of(scoring, None),
                          {"experiment": folder.name, "decoder": decoder, "tta": list(tta) if tta else None,
                           "scoring": scoring, "mode": f"{len(results)} folds"})
    print(table + f"\nwritten: {folder / (stem_of(scoring, None) + '.md')}")
    return results

if __name__ == "__main__":
    sys.exit(main())
