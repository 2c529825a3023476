"""Writer cross-validation: `python -m htr_lit.cv experiment=crnn_dhsd [--folds 5] [--pilot N] [overrides]`.

The writers of a labels CSV (DHSD by default) are shuffled once (seeded) and cut into k disjoint test folds that
together cover every writer exactly once; each fold's validation writers are drawn from the remaining ones
(htr_lit/cv/folds.py). The folds still to train run as ONE Hydra multirun, `htr_lit.train -m ... sweep=cv
cv.fold=I,J,...` (a fold is one job: htr_lit/cv/fold_job.py), on the launcher asked for: the basic one, two folds
side by side (`--jobs 2`: local_parallel), or a cluster (`--launcher slurm|ray_cluster`). A fold recorded `ok`
training the same recipe (jobs.fold_done) is skipped, a killed one continues from its last.ckpt. The best
checkpoint of every fold is then scored per writer, and one table (per fold, mean ± std, CER per writer) is printed
and written to `<out>/cv.md` and `<out>/cv.json` (htr_lit/cv/summary.py, also a command of its own).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from htr_lit.cv.fold_job import labels_csv
from htr_lit.cv.folds import FOLD_DIR, Fold, fold_list, read_writers, writer_folds
from htr_lit.cv.jobs import (
    compose_recipe,
    digest_of,
    fold_done,
    launcher_overrides,
    multirun_command,
    train_command,
    what_trains,
    write_job,
)
from htr_lit.cv.summary import fold_result, parse_tta, scoring_name, stem_of, write_summary
from htr_lit.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv",
        description="Writer cross-validation of a training recipe: k writer-disjoint test folds, trained as one "
        "Hydra multirun (a fold is a job; any launcher); prints per-fold and mean ± std CER/WER/word accuracy and "
        "CER per writer. Re-running the same command continues where it stopped.",
        epilog="Examples:\n  python -m htr_lit.cv experiment=crnn_dhsd\n"
        "  python -m htr_lit.cv experiment=dilated_dhsd --pilot 2 trainer.max_epochs=4\n"
        "  python -m htr_lit.cv experiment=crnn_dhsd --launcher slurm hydra.launcher.partition=gpu trainer=gpu\n"
        "  make cv EXP=crnn_dhsd ARGS='--jobs 1'\n"
        "The same folds without this front: python -m htr_lit.train -m experiment=crnn_dhsd sweep=cv, then\n"
        "  python -m htr_lit.cv.summary outputs/cv/crnn_dhsd",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every fold, e.g. experiment=crnn_dhsd")
    p.add_argument("--folds", type=int, default=5, help="number of writer folds (default 5: 6 writers each on DHSD)")
    p.add_argument("--val-writers", type=int, default=3, help="validation writers per fold, drawn from the rest")
    p.add_argument("--seed", type=int, default=0, help="seed of the writer shuffle (the same folds for every recipe)")
    p.add_argument("--pilot", type=int, default=0, metavar="N",
                   help="pilot mode: run only the first N folds (a quick screen, labelled PILOT in the output)")
    p.add_argument("--only", type=fold_list, default=None, metavar="I,J",
                   help="train and score only these fold indices (e.g. 3,4: one cross-validation split over several "
                   "machines); their table is written as cv_folds_3_4.md beside the full one")
    p.add_argument("--jobs", type=int, default=2,
                   help="folds trained at a time on this machine (default 2: hydra/launcher=local_parallel; 1: basic)")
    p.add_argument("--launcher", default=None, metavar="NAME",
                   help="any Hydra launcher of conf/hydra/launcher (slurm, ray_cluster, local_parallel, ...); its "
                   "settings as overrides, e.g. hydra.launcher.partition=gpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of each fold (default: the CPU cores divided among the --jobs folds that run at "
                   "once; with --launcher: torch's own default)")
    p.add_argument("--out", default=None, help="output folder (default outputs/cv/<experiment>[_pilot])")
    p.add_argument("--dry-run", action="store_true", help="print the folds and the multirun command, train nothing")
    p.add_argument("--decoder", default="greedy", metavar="NAME",
                   help="score the folds' test writers with this decoder (conf/decoder/NAME.yaml, e.g. beam_names); "
                   "trained folds are reused, only the scoring runs again (default greedy)")
    p.add_argument("--tta", nargs="?", const=True, default=None, metavar="F,F,...",
                   help="score with predict's test-time stretch (`tta=true`): each test image read at width factors "
                   "0.8..1.2 (or those given, e.g. 0.9,1,1.1) and the readings fused (htr_lit/inference/tta.py); "
                   "trained folds are reused, only the scoring runs again")
    return p


def _choose(args: argparse.Namespace, folds: list[Fold]) -> tuple[list[Fold], str]:
    if args.pilot and args.only:
        raise SystemExit("error: --pilot and --only both choose folds; give one of them")
    if args.only and args.only[-1] >= len(folds):
        raise SystemExit(f"error: --only {args.only[-1]}: the folds are numbered 0..{len(folds) - 1}")
    if args.only:
        return [folds[i] for i in args.only], f"folds {', '.join(map(str, args.only))} of {len(folds)} (a part of " \
            "the cross-validation)"
    if args.pilot:
        chosen = folds[: args.pilot]
        return chosen, f"PILOT ({len(chosen)} of {len(folds)} folds)"
    return folds, f"{len(folds)} folds"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)  # overrides and options in any order
    tta = parse_tta(args.tta)
    scoring = scoring_name(args.decoder, tta)
    overrides = list(args.overrides)
    exp = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "default")
    try:
        recipe_cfg = compose_recipe([o for o in overrides if not o.startswith(("hydra.", "hydra/"))])  # no launcher
        csv_path = labels_csv(recipe_cfg)
        # what the folds train: the overrides' config without the NOT_COMPARED ones (a time limit, a folder)
        recipe = digest_of(what_trains(overrides))
        rows = read_writers(csv_path)
        folds = writer_folds(list(rows), k=args.folds, num_val=args.val_writers, seed=args.seed)
    except (ConfigError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    except Exception as e:  # noqa: BLE001 - a Hydra override error: one line, as every entry point prints it
        raise SystemExit(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    chosen, mode = _choose(args, folds)
    from htr_lit.config import PROJECT_ROOT

    out = Path(args.out or PROJECT_ROOT / "outputs" / "cv" / (exp.replace("/", "_") + ("_pilot" if args.pilot else "")))
    out = out.resolve()
    todo = []
    for fold in chosen:
        fold_dir = out / FOLD_DIR.format(fold.index)
        print(f"fold {fold.index}: test {', '.join(fold.test_writers)}; val {', '.join(fold.val_writers)}")
        if fold_done(fold_dir, train_command(fold, fold_dir, overrides, threads=1), recipe, digest_of):
            print(f"fold {fold.index}: done before, {'would be ' if args.dry_run else ''}skipped "
                  f"({fold_dir / 'metrics.json'})")
        else:
            todo.append(fold)
    jobs = max(1, min(args.jobs, len(todo)))
    # the cores shared among the folds that train at once: one fold alone gets both cores of 2
    threads = args.threads or (None if args.launcher else max(1, (os.cpu_count() or 1) // jobs))
    command = multirun_command(overrides, [f.index for f in todo], out, args.folds, args.val_writers, args.seed,
                               threads, launcher_overrides(args.launcher, jobs))
    if args.dry_run:
        if todo:
            print(shlex.join(command))
        return 0
    if todo:
        print(f"{mode} of {exp} on {csv_path} ({len(rows)} writers) -> {out}; {len(todo)} to train as one multirun, "
              f"{args.launcher or f'{jobs} at a time'}{f', {threads} torch threads each' if threads else ''}:\n"
              f"{shlex.join(command)}", flush=True)
        for fold in todo:
            fold_dir = out / FOLD_DIR.format(fold.index)
            write_job(fold_dir, train_command(fold, fold_dir, overrides, threads=1), recipe, fold, command[1:])
        env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        code = subprocess.run(command, env=env, check=False).returncode
        if code != 0:
            print(f"error: the multirun exited with {code}", file=sys.stderr)
    results = []
    for fold in chosen:
        result = fold_result(out / FOLD_DIR.format(fold.index), fold, rows, args.decoder, tta)
        if result is None:
            print(f"fold {fold.index}: no result (see {out / FOLD_DIR.format(fold.index)})", file=sys.stderr)
            continue
        results.append(result)
    how = f"{args.decoder} decoding" + (f", test-time stretch x{', x'.join(f'{f:g}' for f in tta)}" if tta else "")
    stem = stem_of(scoring, args.only)
    meta = {"experiment": exp, "overrides": overrides, "mode": mode, "decoder": args.decoder,
            "tta": list(tta) if tta else None, "scoring": scoring}  # scoring: compare --decoder / --b-decoder
    table = write_summary(out, results, f"Writer cross-validation: {exp}, {mode}, {how}", stem, meta)
    print("\n" + table + f"\nwritten: {out / f'{stem}.md'}, {out / f'{stem}.json'}")
    if len(results) < len(chosen):
        missing = sorted({f.index for f in chosen} - {r["fold"] for r in results})
        print(f"error: fold(s) {missing} without a result; re-run the same command to continue", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
