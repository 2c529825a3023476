"""Writer cross-validation: `python -m htr_lit.cv experiment=crnn_dhsd [--folds 5] [--pilot N] [overrides]`.

The writers of a labels CSV (DHSD by default) are shuffled once (seeded) and cut into k disjoint test
folds that together cover every writer exactly once; each fold's validation writers are drawn from the
remaining ones. Every fold is an ordinary `htr_lit.train` run in `<out>/fold_<i>/` (resumable: a fold
recorded `ok` training the same config (cv_jobs.fold_done) is skipped, a killed one continues from its
last.ckpt), run `--jobs` at a time, the CPU cores shared among them (`--threads`), for all the recipe's epochs.
The best checkpoint of every fold is then scored per writer, and one table (per fold, mean ± std, CER per
writer) is printed and written to `<out>/cv.md` and `<out>/cv.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.cv.folds import FOLD_DIR, Fold, fold_list, read_writers, writer_folds
from htr_lit.cv.jobs import fold_done, read_json, recipe_digest, run_folds, what_trains
from htr_lit.inference.scoring import ALL, score_writers
from htr_lit.runs.records import read_metrics


def _list(values: Sequence[str]) -> str:
    return "[" + ",".join(f"'{v}'" for v in values) + "]"


def train_command(fold: Fold, out_dir: Path, overrides: Sequence[str], threads: int) -> list[str]:
    """The `htr_lit.train` command of one fold (resume=true: re-running it continues a killed run)."""
    return [
        sys.executable, "-m", "htr_lit.train", *overrides,
        f"data.source.test_writers={_list(fold.test_writers)}",
        f"data.source.val_writers={_list(fold.val_writers)}",
        f"hydra.run.dir={out_dir}", "resume=true", f"torch_threads={threads}",
    ]


def fold_checkpoint(fold_dir: Path, recorded: str) -> Path:
    """A fold's best checkpoint: the path its metrics.json recorded, or the file of that name under the fold's
    own `checkpoints/` when the fold folder was moved or renamed since."""
    path, moved = Path(recorded), fold_dir / "checkpoints" / Path(recorded).name
    return moved if not path.is_file() and moved.is_file() else path


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(folds: list[dict[str, Any]], title: str) -> str:
    """The markdown table: one row per fold, mean ± std, then CER per writer."""
    keys = (("test/cer", "CER %"), ("test/wer", "WER %"), ("test/word_acc", "word acc %"))
    lines = [
        f"## {title}",
        "",
        "| fold | test writers | images | " + " | ".join(n for _, n in keys) + " | epochs | train min |",
        "|---|---|---|" + "---|" * len(keys) + "---|---|",
    ]
    for f in folds:
        cells = " | ".join(f"{100 * f[k]:.2f}" for k, _ in keys)
        train_min = f"{f['train_s'] / 60:.0f}" if f.get("train_s") is not None else ""
        writers = ", ".join(f["test_writers"])
        lines.append(f"| {f['fold']} | {writers} | {f['images']} | {cells} | {f.get('epochs', '')} | {train_min} |")
    if len(folds) > 1:  # one fold is its own mean and has no spread
        stats = [_mean_std([f[k] for f in folds]) for k, _ in keys]
        lines.append(
            "| **mean ± std** | | | " + " | ".join(f"**{100 * m:.2f} ± {100 * s:.2f}**" for m, s in stats) + " | | |"
        )
    writers = sorted(((w, s) for f in folds for w, s in f["writers"].items()), key=lambda x: x[1]["cer"])
    if writers:
        lines += [
            "",
            "CER per writer, best to worst:",
            "",
            "| writer | fold | images | CER % | WER % |",
            "|---|---|---|---|---|",
        ]
        fold_of = {w: f["fold"] for f in folds for w in f["writers"]}
        lines += [
            f"| {w} | {fold_of[w]} | {s['images']} | {100 * s['cer']:.2f} | {100 * s['wer']:.2f} |" for w, s in writers
        ]
    return "\n".join(lines) + "\n"


def compose_recipe(overrides: Sequence[str]) -> Any:
    """The train config the folds start from (the experiment and the user's overrides, no fold writers)."""
    from hydra import compose, initialize_config_dir

    from htr_lit.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def digest_of(overrides: Sequence[str]) -> str:
    """The recipe digest of the config `overrides` compose to today (fold_done's check of an older record)."""
    return recipe_digest(compose_recipe(overrides))


def labels_csv(cfg: Any) -> Path:
    """The labels CSV the experiment reads (`data.source.csv_path` of the composed train config)."""
    path = cfg.data.source.get("csv_path")
    if not path:
        raise SystemExit(
            "error: writer cross-validation needs data.source.csv_path (a labels CSV with writer_id), "
            "e.g. experiment=crnn_dhsd or data=csv data.source.csv_path=..."
        )
    if not Path(path).is_file():
        raise SystemExit(f"error: {path}: labels CSV not found (set HTR_DHSD_DIR or data.source.csv_path; "
                         "`make fetch-dhsd` downloads DHSD into data/dhsd: then HTR_DHSD_DIR=data/dhsd)")
    return Path(path)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv",
        description="Writer cross-validation of a training recipe: k writer-disjoint test folds, each an "
        "ordinary resumable `htr_lit.train` run; prints per-fold and mean ± std CER/WER/word "
        "accuracy and CER per writer. Re-running the same command continues where it stopped.",
        epilog="Examples:\n  python -m htr_lit.cv experiment=crnn_dhsd\n"
        "  python -m htr_lit.cv experiment=dilated_dhsd --pilot 2 trainer.max_epochs=4\n"
        "  make cv EXP=crnn_dhsd ARGS='--jobs 1'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every fold, e.g. experiment=crnn_dhsd")
    p.add_argument("--folds", type=int, default=5, help="number of writer folds (default 5: 6 writers each on DHSD)")
    p.add_argument("--val-writers", type=int, default=3, help="validation writers per fold, drawn from the rest")
    p.add_argument("--seed", type=int, default=0, help="seed of the writer shuffle (the same folds for every recipe)")
    p.add_argument(
        "--pilot",
        type=int,
        default=0,
        metavar="N",
        help="pilot mode: run only the first N folds (a quick screen, labelled PILOT in the output)",
    )
    p.add_argument(
        "--only",
        type=fold_list,
        default=None,
        metavar="I,J",
        help="train and score only these fold indices (e.g. 3,4: split one cross-validation over sittings or "
        "machines); their table is written as cv_folds_3_4.md beside the full one",
    )
    p.add_argument("--jobs", type=int, default=2, help="folds trained at a time (default 2)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of each training (default: the CPU cores divided among the trainings that run at once, "
        "so 1 each for two folds on 2 cores, 2 for the last fold alone)",
    )
    p.add_argument("--out", default=None, help="output folder (default outputs/cv/<experiment>[_pilot])")
    p.add_argument("--dry-run", action="store_true", help="print the folds and commands, train nothing")
    p.add_argument(
        "--decoder",
        default="greedy",
        metavar="NAME",
        help="score the folds' test writers with this decoder (conf/decoder/NAME.yaml, e.g. beam_names); "
        "trained folds are reused, only the scoring runs again (default greedy)",
    )
    p.add_argument(
        "--tta",
        nargs="?",
        const=True,
        default=None,
        metavar="F,F,...",
        help="score with predict's test-time stretch (`tta=true`): each test image read at width factors "
        "0.8..1.2 (or those given, e.g. 0.9,1,1.1) and the readings fused (htr_lit/inference/tta.py); trained "
        "folds are reused, only the scoring runs again",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)  # overrides and options in any order
    tta = None
    if args.tta is not None:
        from htr_lit.errors import ConfigError
        from htr_lit.inference.tta import tta_factors

        try:
            tta = tta_factors(args.tta)
        except ConfigError as e:
            raise SystemExit(f"error: --tta: {e}") from e
    # names the scores' files: per_writer_<scoring>.json, cv_<scoring>.md (greedy alone: the run's own figures)
    scoring = args.decoder + ("_tta_" + "_".join(f"{f:g}" for f in tta) if tta else "")
    overrides = list(args.overrides)
    exp = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "default")
    recipe_cfg = compose_recipe(overrides)
    csv_path = labels_csv(recipe_cfg)
    # what the folds train: the overrides' config without the NOT_COMPARED ones (a longer time limit, another folder)
    recipe = digest_of(what_trains(overrides))
    rows = read_writers(csv_path)
    folds = writer_folds(list(rows), k=args.folds, num_val=args.val_writers, seed=args.seed)
    if args.pilot and args.only:
        raise SystemExit("error: --pilot and --only both choose folds; give one of them")
    if args.only and args.only[-1] >= len(folds):
        raise SystemExit(f"error: --only {args.only[-1]}: the folds are numbered 0..{len(folds) - 1}")
    chosen = [folds[i] for i in args.only] if args.only else folds[: args.pilot] if args.pilot else folds
    if args.pilot:
        pilot = f"PILOT ({len(chosen)} of {len(folds)} folds)"
    elif args.only:
        pilot = f"folds {', '.join(map(str, args.only))} of {len(folds)} (a part of the cross-validation)"
    else:
        pilot = f"{len(folds)} folds"
    from htr_lit.config import PROJECT_ROOT

    out = Path(args.out or PROJECT_ROOT / "outputs" / "cv" / (exp.replace("/", "_") + ("_pilot" if args.pilot else "")))
    # A recipe's max_time is a safety net for one run on idle cores; folds trained side by side, one thread each,
    # would be cut at an epoch that depends on the machine's load. Every fold trains the recipe's epochs instead.
    fold_overrides = overrides if any(o.startswith("trainer.max_time=") for o in overrides) else [
        *overrides, "trainer.max_time=null"]
    todo = []
    for fold in chosen:
        fold_dir = out / FOLD_DIR.format(fold.index)
        cmd = train_command(fold, fold_dir, fold_overrides, threads=1)  # threads are not compared by fold_done
        print(f"fold {fold.index}: test {', '.join(fold.test_writers)}; val {', '.join(fold.val_writers)}")
        if fold_done(fold_dir, cmd, recipe, digest_of):
            print(f"fold {fold.index}: done before, {'would be ' if args.dry_run else ''}skipped "
                  f"({fold_dir / 'metrics.json'})")
        else:
            todo.append((fold, fold_dir))
    # the cores shared among the trainings that run at once: one fold left alone gets both cores of 2
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, min(args.jobs, len(todo))))
    jobs = [(fold, fold_dir, train_command(fold, fold_dir, fold_overrides, threads)) for fold, fold_dir in todo]
    if args.dry_run:
        for _, _, cmd in jobs:
            print("  " + " ".join(cmd[1:]))
        return 0
    print(
        f"{pilot} of {exp} on {csv_path} ({len(rows)} writers) -> {out}; {len(jobs)} to train, {args.jobs} at a "
        f"time, {threads} torch thread{'s' if threads > 1 else ''} each",
        flush=True,
    )
    codes = run_folds(jobs, args.jobs, recipe, threads)
    results = []
    for fold in chosen:
        fold_dir = out / FOLD_DIR.format(fold.index)
        metrics = read_metrics(fold_dir) or {}
        if metrics.get("status") != "ok" or not metrics.get("best_ckpt"):
            print(f"fold {fold.index}: no result (see {fold_dir / 'cv_train.log'})", file=sys.stderr)
            continue
        greedy = scoring == "greedy"  # the training run's own test figures
        scores_file = fold_dir / ("per_writer.json" if greedy else f"per_writer_{scoring}.json")
        per_writer = read_json(scores_file)
        stale = per_writer is None or set(per_writer) - {ALL} != set(fold.test_writers)
        if stale or (not greedy and ALL not in per_writer):
            print(f"fold {fold.index}: scoring the test writers ({scoring})", flush=True)
            per_writer = score_writers(
                fold_checkpoint(fold_dir, metrics["best_ckpt"]), {w: rows[w] for w in fold.test_writers},
                decoder=args.decoder, tta=tta,
            )
            scores_file.write_text(json.dumps(per_writer, indent=2))
        total = per_writer.pop(ALL, None)
        # greedy: the training run's own test figures; another decoder: its figures over the fold's rows
        fold_figures = metrics if greedy else {f"test/{k}": total[k] for k in ("cer", "wer", "word_acc")}
        results.append(
            {
                "fold": fold.index,
                "test_writers": list(fold.test_writers),
                "val_writers": list(fold.val_writers),
                "images": sum(s["images"] for s in per_writer.values()),
                "writers": per_writer,
                "epochs": metrics.get("epochs"),
                "train_s": metrics.get("time/train_s"),
                **{k: fold_figures[k] for k in ("test/cer", "test/wer", "test/word_acc")},
            }
        )
    how = f"{args.decoder} decoding" + (f", test-time stretch x{', x'.join(f'{f:g}' for f in tta)}" if tta else "")
    table = summarise(results, f"Writer cross-validation: {exp}, {pilot}, {how}")
    out.mkdir(parents=True, exist_ok=True)
    stem = ("cv" if scoring == "greedy" else f"cv_{scoring}") + (
        "_folds_" + "_".join(map(str, args.only)) if args.only else ""
    )
    (out / f"{stem}.md").write_text(table)
    (out / f"{stem}.json").write_text(
        json.dumps(
            {
                "experiment": exp,
                "overrides": overrides,
                "mode": pilot,
                "decoder": args.decoder,
                "tta": list(tta) if tta else None,
                "scoring": scoring,  # the name of these scores (compare_cv --decoder / --b-decoder)
                "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),  # readers: the latest wins
                "folds": results,
            },
            indent=2,
        )
    )
    print("\n" + table + f"\nwritten: {out / f'{stem}.md'}, {out / f'{stem}.json'}")
    failed = sorted(i for i, c in codes.items() if c != 0)
    if failed or len(results) < len(chosen):
        print(
            f"error: {len(chosen) - len(results)} fold(s) without a result (failed: {failed}); "
            "re-run the same command to continue",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
