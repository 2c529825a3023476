"""What train and eval share: callbacks/loggers from config, a safe task wrapper, metric printing."""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from htr_lit.errors import find_user_error
from htr_lit.runs.quiet import quiet_lightning
from htr_lit.runs.records import JobRecord, is_multirun

log = logging.getLogger(__name__)


def build_callbacks(cfg: DictConfig) -> list[Callback]:
    return [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def build_loggers(cfg: DictConfig) -> list[Logger]:
    return [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]


def use_standard_start_method() -> None:
    """A job of Hydra's local_parallel launcher runs in a joblib/loky worker, whose default start method ('loky')
    the processes a job starts cannot use (DataLoader workers fail with "'Process' object has no attribute 'env'",
    a pool's children with "cannot find context for 'loky'"): the job's children start the platform's way."""
    current = mp.get_start_method(allow_none=True)
    if current is not None and current not in mp.get_all_start_methods():
        mp.set_start_method(mp.get_all_start_methods()[0], force=True)


def run_task(task: Callable[[DictConfig], dict[str, Any]], cfg: DictConfig) -> dict[str, Any]:
    """Run a task; whatever happens, close W&B so one failed job does not poison the next.

    In a single run, an exception propagates (the entry point prints a UserError's message alone, any
    other with its traceback). In a multirun, the job is logged (a UserError by its message, any other
    with its traceback), its metrics.json records status `failed` and the error, and that record is
    returned so the sweep goes on.
    """
    failed = False
    use_standard_start_method()
    quiet_lightning(cfg.get("trainer"))  # Lightning's tips and a deprecation inside Lightning: not about this run
    try:
        return task(cfg)
    except Exception as err:
        failed = True
        if not is_multirun():
            raise
        user_error = find_user_error(err)
        if user_error is not None:
            log.error("task failed: %s", user_error)
        else:
            log.exception("task failed")
        try:
            return JobRecord(cfg).fail(user_error or err)
        except Exception:
            log.exception("could not write the failure record")
            return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    finally:
        try:
            import wandb

            if wandb.run is not None:
                wandb.finish(exit_code=1 if failed else 0)
        except ImportError:
            pass


def to_float_dict(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v.item() if isinstance(v, torch.Tensor) else v) for k, v in metrics.items()}


def print_metrics(metrics: dict[str, Any], out_dir: Path) -> None:
    """Final figures as a small table on stdout, then the run folder."""
    rows = [(k, v) for k, v in metrics.items() if isinstance(v, float) and "/" in k]
    width = max((len(k) for k, _ in rows), default=10)
    print("\n" + "-" * (width + 14))
    for k, v in rows:
        shown = f"{100 * v:6.2f} %" if k.split("/")[-1] in ("cer", "wer", "word_acc") else f"{v:.4g}"
        print(f"{k:<{width}}  {shown}")
    print("-" * (width + 14))
    print(f"run folder: {out_dir}")
