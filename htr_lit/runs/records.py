"""Per-job records (`metrics.json`) and a job's life through them: skipped, running, ok or failed.

A job's `metrics.json` carries `status`: `running` (written at the start), `ok` (the final metrics) or
`failed` (with `error`), plus the job's command-line `overrides` and its `config` (seed, data, the whole
sequence-model config...). Re-running a multirun into the same `hydra.sweep.dir` skips jobs recorded
`ok` with the same overrides and resumes the others from their `checkpoints/last.ckpt`.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from htr_lit.runs.resume import LAST, LAST_CKPT, resolve_ckpt_path

log = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"


def is_multirun() -> bool:
    """True inside a job launched with `-m` (Hydra MULTIRUN mode)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_overrides() -> list[str]:
    """The job's own overrides (`key=value` strings as in `.hydra/overrides.yaml`); [] outside Hydra."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def run_config(cfg: DictConfig) -> dict[str, Any]:
    """What defines a job's cell in a sweep: the sequence model's whole config (its keys flat: `rates`,
    `hidden_size`...; `_target_` as `sequence_target`), encoder, seed, data and training budget."""
    seq = OmegaConf.to_container(cfg.model.sequence, resolve=True)
    target = str(seq.get("_target_", ""))
    return {
        **{k: v for k, v in seq.items() if not k.startswith("_")},
        "sequence": target.rsplit(".", 1)[-1],
        "sequence_target": target,
        "encoder": str(cfg.model.encoder.get("_target_", "")).rsplit(".", 1)[-1],
        "seed": cfg.get("seed"),
        "data": str(cfg.data.source.get("_target_", "")).rsplit(".", 1)[-1],
        "max_time": cfg.trainer.get("max_time"),
        "max_epochs": cfg.trainer.get("max_epochs"),
        "pretrained_encoder": cfg.get("pretrained_encoder"),
    }


def read_metrics(out_dir: str | Path) -> dict[str, Any] | None:
    """A job's metrics.json, or None when it is missing or unreadable (a job killed mid-write)."""
    try:
        return json.loads((Path(out_dir) / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_metrics(out_dir: str | Path, record: dict[str, Any]) -> None:
    """Write metrics.json atomically (rename), so a reader never sees half a file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    tmp.replace(out_dir / METRICS_FILE)


# Overrides that say how a job runs, not what it trains: a re-run on another number of threads is the same job.
NOT_COMPARED = ("torch_threads=",)


def _compared(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if not o.startswith(NOT_COMPARED))


def previous_outcome(out_dir: Path, overrides: list[str]) -> tuple[str, dict[str, Any] | None]:
    """What an earlier attempt left in `out_dir` for the same overrides: ("done", metrics) when it
    finished ok, ("resume", None) when it left a last.ckpt, else ("fresh", None).

    A folder from a different command (other overrides at the same job number) is never reused.
    """
    previous = read_metrics(out_dir)
    if previous is not None and _compared(previous.get("overrides", [])) != _compared(overrides):
        return "fresh", None
    if previous is not None and previous.get("status") == "ok":
        return "done", previous
    if (Path(out_dir) / LAST_CKPT).is_file():
        return "resume", None
    return "fresh", None


class JobRecord:
    """One job's metrics.json through its life, in the order `train` calls it:
    `done_before` (a re-run sweep skips it) -> `resume_from` -> `start` (running) -> `finish` (ok);
    `fail` (failed) from the task wrapper when it raises."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.out_dir = Path(cfg.paths.output_dir)
        self.overrides = job_overrides()
        self._outcome: tuple[str, dict[str, Any] | None] | None = None

    def _previous(self) -> tuple[str, dict[str, Any] | None]:
        """Only a re-run multirun (with `sweep_resume`, the default) looks at what an earlier attempt left."""
        if self._outcome is None:
            rerun = is_multirun() and self.cfg.get("sweep_resume", True)
            self._outcome = previous_outcome(self.out_dir, self.overrides) if rerun else ("fresh", None)
        return self._outcome

    def done_before(self) -> dict[str, Any] | None:
        """The record of an earlier attempt that finished ok with the same overrides (skip the job), else None."""
        outcome, previous = self._previous()
        if outcome == "done":
            log.info("skipping: %s already records status ok", self.out_dir / METRICS_FILE)
        return previous if outcome == "done" else None

    def resume_from(self) -> str | None:
        """The checkpoint `trainer.fit` continues from (`ckpt_path`, `resume`, or the last.ckpt an interrupted
        sweep job left), checked before any data loads; None for a fresh start."""
        ckpt_path = self.cfg.get("ckpt_path")
        if ckpt_path is None and self._previous()[0] == "resume":
            ckpt_path = LAST
        return resolve_ckpt_path(ckpt_path, bool(self.cfg.get("resume")), self.out_dir)

    def _base(self) -> dict[str, Any]:
        return {"overrides": self.overrides, "config": run_config(self.cfg), "tags": list(self.cfg.get("tags") or [])}

    def start(self) -> None:
        """status running: enough for the report to list the job if it never finishes."""
        write_metrics(self.out_dir, {"status": "running", **self._base()})

    def finish(self, metrics: dict[str, Any], write: bool = True) -> dict[str, Any]:
        """status ok with the final metrics (written when `write`: rank zero); returns the record."""
        record = {**self._base(), **metrics, "status": "ok"}
        if write:
            write_metrics(self.out_dir, record)
        return record

    def fail(self, err: BaseException) -> dict[str, Any]:
        """status failed with the error text; written even when the config itself is what is broken."""
        record: dict[str, Any] = {"status": "failed", "error": f"{type(err).__name__}: {err}"[:4000],
                                  "overrides": self.overrides}
        try:
            record["config"] = run_config(self.cfg)
        except Exception:  # noqa: BLE001 - the config itself may be what is broken
            record["config"] = {}
        write_metrics(self.out_dir, record)
        return record


def objective(metrics: dict[str, Any], key: str | None) -> float | None:
    """The value returned to a sweeper: `metrics[key]`, or +inf for a failed job.

    +inf, not NaN: it is the worst value of a minimised objective (val/cer) and the Optuna sweeper
    records it as a complete trial, whereas a NaN makes hydra-optuna-sweeper 1.3 crash the study
    (it tells the NaN trial as FAIL *with* values, which Optuna rejects).
    """
    if not key:
        return None
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.inf
