"""Dilated convolutions vs BiLSTM over writer folds: every configuration cross-validated with the DHSD recipe.

    python -m htr_lit.cv.ablation [--configs bilstm,dilated,...] [--folds 2,3,4] [--jobs 2]
        [--cv-root outputs/cv] [--out docs] [--report-only] [--dry-run] [Hydra overrides for every fold]

The (configuration, fold) pairs still to train are the jobs of one Hydra multirun, `htr_lit.train -m sweep=cv
experiment=<exp>,<exp>,... cv.fold=2,3,4` (each job one fold of one configuration, on any launcher: `--jobs`
local_parallel, `--launcher slurm`; resumable: finished folds are skipped). `bilstm` and `dilated` are the
recipes themselves (`crnn_dhsd`, `dilated_dhsd`, folders of the same names), so their own cross-validation folds
are reused, not retrained; any other name X is the cell `experiment=ablation/X` (folder `ablation_X`). Then
`<out>/ablation_cv.{md,json}` and `ablation_cv_curves.png` are written (htr_lit/cv/ablation_report.py)
and the markdown is spliced into `<out>/results.md` (block `ablation_cv`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from htr_lit.config import CONFIG_DIR, project_root
from htr_lit.cv.ablation_report import CvConfig, write_report
from htr_lit.cv.fold_job import labels_csv
from htr_lit.cv.folds import FOLD_DIR, Fold, fold_list, read_writers, writer_folds
from htr_lit.cv.jobs import (
    JOB_FILE,
    compose_recipe,
    digest_of,
    fold_done,
    launcher_overrides,
    multirun_command,
    train_command,
    what_trains,
)
from htr_lit.cv.summary import fold_result, recorded_fold, stem_of, write_summary
from htr_lit.runs.records import read_metrics

ABLATION_DIR = Path(CONFIG_DIR) / "experiment" / "ablation"
DEFAULT_CONFIGS = ("bilstm", "dilated", "dilated_unshared", "dilated_1d", "cnn_only", "tcn", "dilated_rates1248",
                   "dilated_3block")
RECIPES = {"bilstm": "crnn_dhsd", "dilated": "dilated_dhsd"}  # cells that are a recipe with its own cv folder
# minutes: one fold of a dilated DHSD recipe, one torch thread, next to another fold on the 2-core CPU (measured:
# 37-55 light augmentation, 57-63 handwriting augmentation; the BiLSTM's 83 with it are reused, not retrained)
MIN_PER_FOLD = 60
FOLDS, VAL_WRITERS = 5, 3  # the writer folds of `python -m htr_lit.cv` (its defaults): the recipes' own folds


def known_configs() -> list[str]:
    """The ablation cells: the files of conf/experiment/ablation/."""
    return sorted(p.stem for p in ABLATION_DIR.glob("*.yaml"))


def resolve_configs(names: Sequence[str], cv_root: Path) -> list[CvConfig]:
    """Name -> (experiment, cv folder); an unknown name is an error naming the valid ones."""
    known = known_configs()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown configuration(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    configs = []
    for name in names:
        experiment = RECIPES.get(name, f"ablation/{name}")
        configs.append(CvConfig(name, experiment, cv_root / experiment.replace("/", "_")))  # cv.py's own naming
    return configs


def fold_plan(configs: Sequence[CvConfig], folds: Sequence[int], overrides: Sequence[str]) -> dict[str, list[int]]:
    """Configuration name -> its folds still to train (a fold recorded `ok` training the same recipe: done).
    The writer folds are drawn (from the recipe's labels CSV) only when a fold folder holds a record to check."""
    writer_fold: list[Fold] = []
    todo: dict[str, list[int]] = {}
    for config in configs:
        cell = [f"experiment={config.experiment}", *overrides]
        recipe = None
        todo[config.name] = []
        for i in folds:
            fold_dir = config.cv_dir / FOLD_DIR.format(i)
            if (fold_dir / JOB_FILE).is_file() and (read_metrics(fold_dir) or {}).get("status") == "ok":
                if not writer_fold:
                    rows = read_writers(labels_csv(compose_recipe(cell)))
                    writer_fold = writer_folds(list(rows), k=FOLDS, num_val=VAL_WRITERS, seed=0)
                recipe = recipe or digest_of(what_trains(cell))
                if fold_done(fold_dir, train_command(writer_fold[i], fold_dir, cell, 1), recipe, digest_of):
                    continue
            todo[config.name].append(i)
    return todo


def multiruns(configs: Sequence[CvConfig], todo: dict[str, list[int]], overrides: Sequence[str], cv_root: Path,
              jobs: int, launcher: str | None) -> list[list[str]]:
    """The Hydra multiruns that train what is left: configurations with the same folds to go share one
    (`experiment=a,b,... cv.fold=i,j,...`: every configuration x fold a job, into <cv_root>/<experiment>/fold_<i>);
    usually all of them share one."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for config in configs:
        if todo[config.name]:
            groups.setdefault(tuple(todo[config.name]), []).append(config.experiment)
    threads = None if launcher else max(1, (os.cpu_count() or 1) // max(1, jobs))
    return [multirun_command([f"experiment={','.join(exps)}", *overrides], folds, cv_root, FOLDS, VAL_WRITERS, 0,
                             threads, launcher_overrides(launcher, jobs), one_folder=False)
            for folds, exps in groups.items()]


def _name_list(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected configuration names separated by commas, e.g. bilstm,dilated")
    return list(dict.fromkeys(names))  # in the given order, once each


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv.ablation",
        description="Writer-fold cross-validation of the sequence-model ablation with the DHSD recipe, then one "
        "report (per configuration mean ± std; paired with the BiLSTM over folds and writers; learning curves).",
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every fold of every configuration")
    p.add_argument("--configs", type=_name_list, default=list(DEFAULT_CONFIGS),
                   help=f"ablation cells, comma-separated (default: {','.join(DEFAULT_CONFIGS)})")
    p.add_argument("--folds", type=fold_list, default=[2, 3, 4],
                   help="writer folds to train (default 2,3,4: the folds whose recipe records are in docs/cv)")
    p.add_argument("--jobs", type=int, default=2, help="folds trained at a time on this machine (local_parallel), "
                   "the cores shared among them")
    p.add_argument("--launcher", default=None, metavar="NAME",
                   help="any Hydra launcher of conf/hydra/launcher (slurm, ray_cluster, ...) for the folds")
    p.add_argument("--cv-root", type=Path, default=None, help="folder of the cv folders (default outputs/cv)")
    p.add_argument("--out", type=Path, default=None, help="folder of the report and results.md (default docs)")
    p.add_argument("--report-only", action="store_true", help="train nothing: report whatever results are there")
    p.add_argument("--dry-run", action="store_true", help="print the multirun command(s), run nothing")
    return p


def write_fold_tables(configs: Sequence[CvConfig], folds: Sequence[int], overrides: Sequence[str]) -> None:
    """Each configuration's table of `folds` (`cv_folds_<i>_<j>.json`, as `python -m htr_lit.cv --only` writes it),
    from the folds it finished; the report reads these tables."""
    rows = None
    for config in configs:
        results = []
        for i in folds:
            fold_dir = config.cv_dir / FOLD_DIR.format(i)
            metrics = read_metrics(fold_dir) or {}
            fold = recorded_fold(fold_dir, metrics)
            if fold is None or metrics.get("status") != "ok":
                continue
            if rows is None:
                rows = read_writers(labels_csv(compose_recipe([f"experiment={config.experiment}", *overrides])))
            results.append(fold_result(fold_dir, fold, rows))
        if results:
            done = [r["fold"] for r in results]
            mode = f"folds {', '.join(map(str, done))} of {FOLDS} (a part of the cross-validation)"
            write_summary(config.cv_dir, results, f"Writer cross-validation: {config.experiment}, {mode}, greedy "
                          "decoding", stem_of("greedy", done),
                          {"experiment": config.experiment, "overrides": [f"experiment={config.experiment}",
                                                                          *overrides],
                           "mode": mode, "decoder": "greedy", "tta": None, "scoring": "greedy"})


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_intermixed_args(argv)
    if any(o.startswith("experiment=") for o in args.overrides):
        raise SystemExit("error: each configuration chooses its experiment; drop the experiment= override")
    cv_root = (args.cv_root or project_root() / "outputs" / "cv").resolve()
    out = (args.out or project_root() / "docs").resolve()
    configs = resolve_configs(args.configs, cv_root)
    failed = False
    if not args.report_only:
        todo = fold_plan(configs, args.folds, args.overrides)
        commands = multiruns(configs, todo, args.overrides, cv_root, args.jobs, args.launcher)
        n, left = len(configs) * len(args.folds), sum(map(len, todo.values()))
        if args.dry_run:
            for command in commands:
                print(shlex.join(command))
            return 0
        print(f"{len(configs)} configurations x {len(args.folds)} folds = {n} fold trainings, {n - left} finished "
              f"before; about {MIN_PER_FOLD} min each on the 2-core CPU, {args.jobs} at a time: about "
              f"{left * MIN_PER_FOLD / max(1, args.jobs) / 60:.1f} h to go. Resumable: re-run the same command, "
              "finished folds are skipped.", flush=True)
        for command in commands:
            print(shlex.join(command), flush=True)
            code = subprocess.run(command, check=False).returncode
            failed = failed or code != 0
        write_fold_tables(configs, args.folds, args.overrides)
    command = shlex.join(["python", "-m", "htr_lit.cv.ablation", *argv])
    numbers = write_report(configs, args.folds, out, command)
    png = out / "ablation_cv_curves.png"
    print(f"written {out / 'ablation_cv.md'}, ablation_cv.json{', ' + png.name if png.is_file() else ''}")
    missing = [f"{c.name} fold {i}" for c in configs for i in args.folds
               if i not in (numbers.get("configs", {}).get(c.name, {}).get("folds") or [])]
    if not args.report_only and (failed or missing):
        print(f"error: without a result: {', '.join(missing) or 'none'}; the multirun "
              f"{'failed' if failed else 'ran'}; re-run the same command to continue", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
