"""The bookkeeping of writer cross-validation folds (`python -m htr_lit.cv`): which fold is already done, the
digest of the recipe it trained, and running the fold trainings a few at a time as child processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from htr_lit.runs.records import read_metrics

JOB_FILE = "cv_job.json"  # a fold's train command and recipe digest, so a re-run knows whether it may skip it
# Overrides that say where a fold lives and how long it may run, not what it trains: a moved fold folder, or a
# longer time limit for a slower machine, still finds its finished folds (a fold cut by the limit is finished
# by the original command too; the table shows its epochs).
NOT_COMPARED = ("hydra.run.dir=", "trainer.max_time=")


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: the writers it tests on and the ones that pick its best epoch."""

    index: int
    test_writers: tuple[str, ...]
    val_writers: tuple[str, ...]


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable (a fold still running)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _what_trains(command: Sequence[str]) -> list[str]:
    return [arg for arg in command if not arg.startswith(NOT_COMPARED)]


def fold_done(fold_dir: Path, command: list[str], recipe: str | None = None) -> bool:
    """True when the fold finished ok with the same command (NOT_COMPARED aside) and, when both sides
    know it, the same recipe digest: the same overrides on a recipe whose YAML changed since train again."""
    job = read_json(fold_dir / JOB_FILE)
    metrics = read_metrics(fold_dir)
    if not (job and metrics and metrics.get("status") == "ok"):
        return False
    same_recipe = recipe is None or job.get("recipe") in (None, recipe)  # records older than the digest: trusted
    return _what_trains(job.get("command", [])) == _what_trains(command[1:]) and same_recipe


def recipe_digest(cfg: Any) -> str:
    """A short hash of the composed train config before interpolation (so the same on every machine; the
    fold's writers, run folder and threads are overrides on top of it, compared through the command)."""
    from omegaconf import OmegaConf

    text = OmegaConf.to_yaml(cfg, resolve=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_folds(jobs: list[tuple[Fold, Path, list[str]]], parallel: int, recipe: str | None = None) -> dict[int, int]:
    """Run the fold commands `parallel` at a time (one torch thread each); fold index -> exit code."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending, running, codes = list(jobs), {}, {}
    while pending or running:
        while pending and len(running) < parallel:
            fold, fold_dir, cmd = pending.pop(0)
            fold_dir.mkdir(parents=True, exist_ok=True)
            job = {"command": cmd[1:], "recipe": recipe, "fold": asdict(fold)}
            (fold_dir / JOB_FILE).write_text(json.dumps(job, indent=2))
            log = (fold_dir / "cv_train.log").open("a")
            print(f"fold {fold.index}: training -> {fold_dir} (log: {fold_dir / 'cv_train.log'})", flush=True)
            running[fold.index] = (
                subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env),
                log,
                time.time(),
            )
        time.sleep(2)
        for index, (proc, log, start) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                codes[index] = proc.returncode
                status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"fold {index}: {status} after {(time.time() - start) / 60:.1f} min", flush=True)
                del running[index]
    return codes
