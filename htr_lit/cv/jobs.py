"""The bookkeeping of writer cross-validation folds (`python -m htr_lit.cv`): which fold is already done and the
digest of the recipe it trained (the folds themselves train as jobs of one Hydra multirun: fold_job.py)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from htr_lit.checkpoint import MOVED_TARGETS
from htr_lit.cv.folds import FOLD_DIR, Fold
from htr_lit.runs.records import read_metrics

JOB_FILE = "cv_job.json"  # a fold's train command and recipe digest, so a re-run knows whether it may skip it
# Overrides that say where a fold lives and how long and on how many threads it may run, not what it trains: a
# moved fold folder, a longer time limit for a slower machine or a fold left alone on 2 threads still finds its
# finished folds (a fold cut by a limit is finished by the original command too; the table shows its epochs).
NOT_COMPARED = ("hydra.", "hydra/", "trainer.max_time=", "torch_threads=")


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable (a fold still running)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# The arguments cv adds to every fold's train command; the rest of the command are the user's overrides.
FOLD_ARGS = ("data.source.test_writers=", "data.source.val_writers=", "hydra.run.dir=", "resume=", "torch_threads=")


def what_trains(command: Sequence[str]) -> list[str]:
    """`command` without the NOT_COMPARED overrides."""
    return [arg for arg in command if not arg.startswith(NOT_COMPARED)]


def user_overrides(command: Sequence[str]) -> list[str]:
    """The user's Hydra overrides in a fold's train command (not `-m htr_lit.train`, not the fold's own args)."""
    return [arg for arg in command if "=" in arg and not arg.startswith(FOLD_ARGS)]


def _fold_args(command: Sequence[str]) -> list[str]:
    return [arg for arg in what_trains(command) if arg.startswith(FOLD_ARGS)]


def fold_done(
    fold_dir: Path, command: list[str], recipe: str | None = None, digest_of: Callable[[list[str]], str] | None = None
) -> bool:
    """True when the fold finished ok training what `command` trains today.

    `recipe` is the digest of the config the user's overrides compose to (NOT_COMPARED ones left out), and
    `digest_of(overrides)` composes and hashes other overrides the same way. A record counts when its fold
    arguments match and (a) it has no digest (a record from before them) and the same command or overrides that
    compose to the same config today, or (b) the same overrides and digest, or (c) its overrides, composed today,
    still give the digest recorded when it trained (its YAML has not changed since) and the same config as
    `command` does: `data.augment=handwriting` recorded before that became the default is the default recipe
    afterwards, while a record of the old default is not.
    """
    job = read_json(fold_dir / JOB_FILE)
    metrics = read_metrics(fold_dir)
    if not (job and metrics and metrics.get("status") == "ok"):
        return False
    then = job.get("command", [])
    if _fold_args(then) != _fold_args(command[1:]):
        return False
    then_overrides, now_overrides = user_overrides(then), user_overrides(command[1:])
    recorded = job.get("recipe")
    if recipe is None or recorded is None:  # no digest to compare: the same command
        if what_trains(then) == what_trains(command[1:]):
            return True
    elif recorded == recipe and what_trains(then_overrides) == what_trains(now_overrides):
        return True
    if recipe is None or digest_of is None:
        return False
    meant_then = digest_of(what_trains(then_overrides))  # what the recorded overrides compose to today
    # a record without a digest is trusted as far as its command was; one with a digest while its YAML is
    # unchanged (records before this rule hashed the NOT_COMPARED overrides too)
    unchanged = recorded is None or recorded in (meant_then, digest_of(then_overrides))
    return unchanged and meant_then == recipe


# Config keys added since recipes were recorded, at the value that trains exactly what was trained before they
# existed: a recipe holding one at that value hashes as it did without it (its kept fold records stay current).
ADDED_DEFAULTS = {"data.source.image_root": None, "data.source.allow_absolute": False, "data.source.drop_rows": None,
                  "data.source.relabel_rows": None}


def recipe_digest(cfg: Any) -> str:
    """A short hash of the composed train config before interpolation (so the same on every machine; the
    fold's writers, run folder and threads are overrides on top of it, compared through the command).
    Every config file the recipe composes counts, `paths/default.yaml` included: editing one, even its
    unresolved interpolations, makes the kept fold records (docs/cv) stale for `htr_lit.cv`."""
    from omegaconf import OmegaConf, open_dict

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.pop("cv", None)  # which fold, how many: compared through the command, not the recipe
        for key, neutral in ADDED_DEFAULTS.items():
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if node is not None and leaf in node and node[leaf] == neutral:
                node.pop(leaf)
    text = OmegaConf.to_yaml(cfg, resolve=False, sort_keys=True)
    for first, now in MOVED_TARGETS.items():  # a class renamed since is the same recipe: hashed by its first name
        text = text.replace(now, first)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_job(fold_dir: Path, command: list[str], recipe: str | None, fold: Fold, launched: list[str]) -> None:
    """Record, before the fold trains, what it trains: `command` is the fold's single-run equivalent
    (`train_command`, compared by fold_done), `launched` the multirun that trains it."""
    fold_dir.mkdir(parents=True, exist_ok=True)
    job = {"command": command[1:], "recipe": recipe, "fold": asdict(fold), "launched": launched}
    (fold_dir / JOB_FILE).write_text(json.dumps(job, indent=2))


def _list(values: Sequence[str]) -> str:
    return "[" + ",".join(f"'{v}'" for v in values) + "]"


def train_command(fold: Fold, out_dir: Path, overrides: Sequence[str], threads: int) -> list[str]:
    """A fold as one ordinary `htr_lit.train` run: what the fold trains, recorded in its cv_job.json and compared
    by fold_done (the fold itself runs as a job of the multirun, `multirun_command`, which trains the same)."""
    return [
        sys.executable, "-m", "htr_lit.train", *overrides,
        f"data.source.test_writers={_list(fold.test_writers)}",
        f"data.source.val_writers={_list(fold.val_writers)}",
        f"hydra.run.dir={out_dir}", "resume=true", f"torch_threads={threads}",
    ]


def launcher_overrides(launcher: str | None, jobs: int) -> list[str]:
    """The Hydra launcher of the folds: `launcher` as named (conf/hydra/launcher), else two or more folds at a time
    on this machine (local_parallel, `jobs` processes) or one after the other (Hydra's basic launcher)."""
    if launcher:
        return [f"hydra/launcher={launcher}"]
    return ["hydra/launcher=local_parallel", f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else []


def multirun_command(overrides: Sequence[str], folds: Sequence[int], out: Path, k: int, num_val: int, seed: int,
                     threads: int | None, launcher: Sequence[str], one_folder: bool = True) -> list[str]:
    """The one multirun that trains `folds` (job i: `cv.fold=i`) into `<out>/fold_<i>` (`one_folder`: one
    experiment), or into `<out>/<experiment>/fold_<i>` (conf/sweep/cv.yaml: several experiments, an ablation)."""
    return [
        sys.executable, "-m", "htr_lit.train", "-m", *overrides, "sweep=cv",
        f"cv.fold={','.join(map(str, folds))}", f"cv.folds={k}", f"cv.val_writers={num_val}", f"cv.seed={seed}",
        f"hydra.sweep.dir={out}", *(["hydra.sweep.subdir=" + FOLD_DIR.format("${cv.fold}")] if one_folder else []),
        *([f"torch_threads={threads}"] if threads else []), *launcher,
    ]


def compose_recipe(overrides: Sequence[str]) -> Any:
    """The train config the folds start from (the experiment and the user's overrides, no fold writers)."""
    from htr_lit.config import compose_config

    return compose_config("train", overrides)


def digest_of(overrides: Sequence[str]) -> str:
    """The recipe digest of the config `overrides` compose to today (fold_done's check of an older record)."""
    return recipe_digest(compose_recipe(overrides))
