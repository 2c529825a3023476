"""What train and eval share: callbacks/loggers from config, a safe task wrapper, metric printing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from htr_lit.records import failure_record, is_multirun, write_metrics

log = logging.getLogger(__name__)


def build_callbacks(cfg: DictConfig) -> list[Callback]:
    return [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def build_loggers(cfg: DictConfig) -> list[Logger]:
    return [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]


def run_task(task: Callable[[DictConfig], dict[str, Any]], cfg: DictConfig,
             tolerate_failure: bool | None = None) -> dict[str, Any]:
    """Run a task; whatever happens, close W&B so one failed job does not poison the next.

    A job that raises is logged with its traceback. In a multirun (`tolerate_failure=None` means
    "when Hydra's mode is MULTIRUN") it then writes metrics.json with status `failed` and the error,
    and returns that record so the sweep goes on; in a single run it re-raises (non-zero exit).
    """
    tolerate = is_multirun() if tolerate_failure is None else tolerate_failure
    failed = False
    try:
        return task(cfg)
    except Exception as err:
        failed = True
        log.exception("task failed")
        if not tolerate:
            raise
        record = failure_record(cfg, err)
        try:
            write_metrics(Path(cfg.paths.output_dir), record)
        except Exception:
            log.exception("could not write the failure record")
        return record
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
