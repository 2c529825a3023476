"""Per-job records (`metrics.json`) and the multirun bookkeeping built on them: skip, resume, failure.

A job's `metrics.json` carries `status`: `running` (written at the start), `ok` (the final metrics) or
`failed` (with `error`), plus the job's command-line `overrides` and the ablation `config`. Re-running
a multirun into the same `hydra.sweep.dir` skips jobs recorded `ok` with the same overrides and
resumes the others from their `checkpoints/last.ckpt` (see `htr_lit.train`).
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

log = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"
LAST_CKPT = "checkpoints/last.ckpt"
# Sequence-model keys that define the ablations (recorded when the model has them).
ABLATION_KEYS = ("rates", "num_blocks", "share_weights", "concat", "channels", "hidden_size", "num_layers", "dims")


def is_multirun() -> bool:
    """True inside a job launched with `-m` (Hydra MULTIRUN mode)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_overrides() -> list[str]:
    """The job's own overrides (`key=value` strings as in `.hydra/overrides.yaml`); [] outside Hydra."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def ablation_config(cfg: DictConfig) -> dict[str, Any]:
    """The configuration keys that define an ablation cell: sequence model and its shape, seed, data."""
    seq = cfg.model.sequence
    out: dict[str, Any] = {
        "sequence": str(seq._target_).rsplit(".", 1)[-1],
        "sequence_target": str(seq._target_),
        "encoder": str(cfg.model.encoder.get("_target_", "")).rsplit(".", 1)[-1],
        "seed": cfg.get("seed"),
        "data": str(cfg.data.source.get("_target_", "")).rsplit(".", 1)[-1],
        "max_time": cfg.trainer.get("max_time"),
        "max_epochs": cfg.trainer.get("max_epochs"),
        "pretrained_encoder": cfg.get("pretrained_encoder"),
    }
    for key in ABLATION_KEYS:
        if key in seq:
            value = seq[key]
            out[key] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return out


def read_metrics(out_dir: Path) -> dict[str, Any] | None:
    """A job's metrics.json, or None when it is missing or unreadable (a job killed mid-write)."""
    try:
        return json.loads((Path(out_dir) / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_metrics(out_dir: Path, record: dict[str, Any]) -> None:
    """Write metrics.json atomically (rename), so a reader never sees half a file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    tmp.replace(out_dir / METRICS_FILE)


def start_record(cfg: DictConfig) -> dict[str, Any]:
    """What a job writes before training: enough for the report to list it if it never finishes."""
    return {"status": "running", "overrides": job_overrides(), "config": ablation_config(cfg),
            "tags": list(cfg.get("tags") or [])}


def failure_record(cfg: DictConfig, err: BaseException) -> dict[str, Any]:
    """metrics.json of a job that raised: status failed, the error text, its configuration."""
    record: dict[str, Any] = {"status": "failed", "error": f"{type(err).__name__}: {err}"[:4000],
                              "overrides": job_overrides()}
    try:
        record["config"] = ablation_config(cfg)
    except Exception:  # the config itself may be what is broken
        record["config"] = {}
    return record


def previous_outcome(out_dir: Path, overrides: list[str]) -> tuple[str, dict[str, Any] | None]:
    """What an earlier attempt left in `out_dir` for the same overrides: ("done", metrics) when it
    finished ok, ("resume", None) when it left a last.ckpt, else ("fresh", None).

    A folder from a different command (other overrides at the same job number) is never reused.
    """
    previous = read_metrics(out_dir)
    if previous is not None and sorted(previous.get("overrides", [])) != sorted(overrides):
        return "fresh", None
    if previous is not None and previous.get("status") == "ok":
        return "done", previous
    if (Path(out_dir) / LAST_CKPT).is_file():
        return "resume", None
    return "fresh", None


def sweep_restart(cfg: DictConfig, out_dir: Path) -> tuple[str | None, dict[str, Any] | None]:
    """(ckpt_path, previous record) for a job: in a multirun with `sweep_resume`, a job already done
    returns its record (skip it) and one that left a last.ckpt gets `ckpt_path="last"` (resume it)."""
    ckpt_path = cfg.get("ckpt_path")
    if not (is_multirun() and cfg.get("sweep_resume", True)):
        return ckpt_path, None
    outcome, previous = previous_outcome(out_dir, job_overrides())
    if outcome == "done":
        log.info("skipping: %s already records status ok", Path(out_dir) / METRICS_FILE)
        return ckpt_path, previous
    if outcome == "resume" and ckpt_path is None:
        log.info("resuming from %s", Path(out_dir) / LAST_CKPT)
        return "last", None
    return ckpt_path, None


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
