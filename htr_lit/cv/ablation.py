"""Dilated convolutions vs BiLSTM over writer folds: every configuration cross-validated with the DHSD recipe.

    python -m htr_lit.cv.ablation [--configs bilstm,dilated,...] [--folds 2,3,4] [--jobs 2]
        [--cv-root outputs/cv] [--out docs] [--report-only] [--dry-run] [Hydra overrides for every fold]

Every (configuration, fold) is one `python -m htr_lit.cv experiment=<exp> --only <fold> --jobs 1 ...`
subprocess, `--jobs` of them at a time (resumable: finished folds are skipped). `bilstm` and `dilated` are the
recipes themselves (`crnn_dhsd`, `dilated_dhsd`, folders of the same names), so their own cross-validation folds
are reused, not retrained; any other name X is the cell `experiment=ablation/X` (folder `ablation_X`). Then
`<out>/ablation_cv.{md,json}` and `ablation_cv_curves.png` are written (htr_lit/cv/ablation_report.py)
and the markdown is spliced into `<out>/results.md` (block `ablation_cv`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from htr_lit.config import CONFIG_DIR, project_root
from htr_lit.cv.ablation_report import CvConfig, write_report
from htr_lit.cv.folds import FOLD_DIR, fold_list

ABLATION_DIR = Path(CONFIG_DIR) / "experiment" / "ablation"
DEFAULT_CONFIGS = ("bilstm", "dilated", "dilated_unshared", "dilated_1d", "cnn_only", "tcn", "dilated_rates1248",
                   "dilated_3block")
RECIPES = {"bilstm": "crnn_dhsd", "dilated": "dilated_dhsd"}  # cells that are a recipe with its own cv folder
# minutes: one fold of a dilated DHSD recipe, one torch thread, next to another fold on the 2-core CPU (measured:
# 37-55 light augmentation, 57-63 handwriting augmentation; the BiLSTM's 83 with it are reused, not retrained)
MIN_PER_FOLD = 60


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


def cv_command(
    config: CvConfig, folds: Sequence[int], jobs: int, overrides: Sequence[str], threads: int | None = None
) -> list[str]:
    """The `htr_lit.cv` command that trains (or skips, when done) `folds` of one configuration."""
    return [
        sys.executable, "-m", "htr_lit.cv", f"experiment={config.experiment}",
        "--only", ",".join(map(str, folds)), "--jobs", str(jobs),
        *(["--threads", str(threads)] if threads else []), "--out", str(config.cv_dir), *overrides,
    ]


def fold_commands(
    configs: Sequence[CvConfig], folds: Sequence[int], overrides: Sequence[str], jobs: int
) -> list[tuple[CvConfig, int, list[str]]]:
    """One `htr_lit.cv --only <fold> --jobs 1` call per (configuration, fold), configuration by configuration, each
    with its share of the CPU cores: run `jobs` at a time, no core waits while a configuration's last fold trains
    alone."""
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    return [(c, i, cv_command(c, [i], 1, overrides, threads)) for c in configs for i in folds]


def run_fold_commands(items: Sequence[tuple[CvConfig, int, list[str]]], jobs: int) -> list[str]:
    """Run the calls `jobs` at a time (a failed one does not stop the rest); the failed ones, named."""

    def run(item: tuple[CvConfig, int, list[str]]) -> str | None:
        config, fold, cmd = item
        print(f">> {config.name} fold {fold}: {shlex.join(['python', *cmd[1:]])}", flush=True)
        code = subprocess.run(cmd, check=False).returncode
        if code == 0:
            return None
        print(f">> {config.name} fold {fold}: FAILED (exit {code}); going on with the others", flush=True)
        return f"{config.name} fold {fold} (exit {code})"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [f for f in pool.map(run, items) if f]


def folds_done_before(configs: Sequence[CvConfig], folds: Sequence[int]) -> int:
    """How many of the fold folders already hold an ok record (cv skips those trained with the same command)."""
    done = 0
    for config in configs:
        for i in folds:
            try:
                record = json.loads((config.cv_dir / FOLD_DIR.format(i) / "metrics.json").read_text())
            except (OSError, ValueError):
                continue
            done += record.get("status") == "ok"
    return done


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
    p.add_argument("--jobs", type=int, default=2, help="folds trained at a time, one torch thread each")
    p.add_argument("--cv-root", type=Path, default=None, help="folder of the cv folders (default outputs/cv)")
    p.add_argument("--out", type=Path, default=None, help="folder of the report and results.md (default docs)")
    p.add_argument("--report-only", action="store_true", help="train nothing: report whatever results are there")
    p.add_argument("--dry-run", action="store_true", help="print the cv command of every configuration, run nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_intermixed_args(argv)
    if any(o.startswith("experiment=") for o in args.overrides):
        raise SystemExit("error: each configuration chooses its experiment; drop the experiment= override")
    # absolute, as cv.py's default --out: the fold commands (and so cv's "done before" check) then match
    cv_root = (args.cv_root or project_root() / "outputs" / "cv").resolve()
    out = (args.out or project_root() / "docs").resolve()
    configs = resolve_configs(args.configs, cv_root)
    items = fold_commands(configs, args.folds, args.overrides, args.jobs)
    if args.dry_run:
        for config, fold, cmd in items:
            print(f"{config.name} fold {fold}: {shlex.join(['python', *cmd[1:]])}")
        return 0
    failed: list[str] = []
    if not args.report_only:
        n, done = len(items), folds_done_before(configs, args.folds)
        print(f"{len(configs)} configurations x {len(args.folds)} folds = {n} fold trainings, {done} finished before; "
              f"about {MIN_PER_FOLD} min each on the 2-core CPU, {args.jobs} at a time: about "
              f"{(n - done) * MIN_PER_FOLD / args.jobs / 60:.1f} h to go. Resumable: re-run the same command, "
              "finished folds are skipped.", flush=True)
        failed = run_fold_commands(items, args.jobs)
    command = shlex.join(["python", "-m", "htr_lit.cv.ablation", *argv])
    write_report(configs, args.folds, out, command)
    png = out / "ablation_cv_curves.png"
    print(f"written {out / 'ablation_cv.md'}, ablation_cv.json{', ' + png.name if png.is_file() else ''}")
    if failed:
        print(f"error: failed: {', '.join(failed)}; re-run the same command to continue", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
