"""Read a multirun folder's jobs (metrics.json + .hydra/overrides.yaml) and aggregate them over seeds."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from htr_lit.results.stats import mean_std

# (metrics.json key, column name) of the figures aggregated per configuration.
METRICS: tuple[tuple[str, str], ...] = (
    ("test/cer", "test_cer"),
    ("test/wer", "test_wer"),
    ("val/cer", "val_cer"),
    ("params", "params"),
    ("time/train_s", "train_s"),
    ("throughput/train_img_s", "train_img_s"),
    ("throughput/infer_img_s", "infer_img_s"),
    ("throughput/seq_infer_img_s", "seq_infer_img_s"),
)
GROUP_IGNORE = ("seed",)  # override keys that a configuration is averaged over
# Speeds re-timed one model at a time after the sweep (htr_lit/measuring/bench_speed.py) replace the in-sweep ones.
SERIAL = {"throughput/infer_img_s": "throughput/serial_infer_img_s",
          "throughput/seq_infer_img_s": "throughput/serial_seq_infer_img_s"}


@dataclass
class Job:
    """One job folder of a sweep."""

    path: Path
    status: str  # ok | failed | running (killed or still going) | missing
    overrides: list[str]
    metrics: dict[str, Any]

    @property
    def error(self) -> str:
        return str(self.metrics.get("error", ""))


@dataclass
class Group:
    """The jobs of one configuration (all seeds) and their mean/std per metric."""

    label: str
    jobs: list[Job] = field(default_factory=list)

    @property
    def ok(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "ok"]

    @property
    def not_ok(self) -> list[Job]:
        return [j for j in self.jobs if j.status != "ok"]

    def values(self, key: str) -> list[float]:
        out = [j.metrics.get(SERIAL.get(key, ""), j.metrics.get(key)) for j in self.ok]
        return [float(v) for v in out if isinstance(v, int | float) and math.isfinite(v)]

    def mean_std(self, key: str) -> tuple[float, float]:
        """Mean and sample standard deviation (n-1) over the ok jobs; NaN where undefined."""
        return mean_std(self.values(key))

    def curve(self, key: str = "val/cer") -> list[tuple[int, float, float, int]]:
        """(epoch, mean, sample std, n) of `key` over the ok jobs' validation curves (`curve/val` in
        metrics.json), one point per epoch: the last validation pass of that epoch."""
        per_epoch: dict[int, list[float]] = {}
        for job in self.ok:
            last: dict[int, float] = {}
            for point in job.metrics.get("curve/val") or []:
                if isinstance(point, dict) and isinstance(point.get(key), int | float) and "epoch" in point:
                    last[int(point["epoch"])] = float(point[key])
            for epoch, value in last.items():
                per_epoch.setdefault(epoch, []).append(value)
        return [(e, *mean_std(v), len(v)) for e, v in sorted(per_epoch.items())]


def _job_key(path: Path, root: Path) -> tuple:
    """Sort job folders numerically where Hydra numbered them (0, 1, ..., 10), else by name."""
    parts = path.relative_to(root).parts
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def load_jobs(sweep_dir: str | Path) -> list[Job]:
    """Every job folder under `sweep_dir`: those with a metrics.json or a .hydra/overrides.yaml."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep folder not found: {root}")
    dirs = {p.parent for p in root.rglob("metrics.json")}
    dirs |= {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    dirs = {d for d in dirs if "wandb" not in d.relative_to(root).parts}
    jobs = []
    for d in sorted(dirs, key=lambda p: _job_key(p, root)):
        try:
            metrics = json.loads((d / "metrics.json").read_text())
        except (OSError, ValueError):
            metrics = {}
        overrides_file = d / ".hydra" / "overrides.yaml"
        if overrides_file.is_file():
            overrides = [str(o) for o in (yaml.safe_load(overrides_file.read_text()) or [])]
        else:
            overrides = [str(o) for o in metrics.get("overrides", [])]
        status = str(metrics.get("status", "ok" if "test/cer" in metrics else "missing")) if metrics else "missing"
        jobs.append(Job(path=d, status=status, overrides=overrides, metrics=metrics))
    return jobs


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def config_labels(jobs: list[Job], ignore: tuple[str, ...] = GROUP_IGNORE) -> list[str]:
    """A label per job from the overrides that differ between jobs (seed and constant ones left out)."""
    parsed = [dict(_split(o) for o in j.overrides) for j in jobs]
    keys = sorted({k for p in parsed for k in p if k not in ignore and not k.startswith("hydra.")})
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    labels = []
    for p in parsed:
        if len(varying) == 1:
            labels.append(str(p.get(varying[0], "-")))
        else:
            labels.append(" ".join(f"{k.rsplit('.', 1)[-1]}={p.get(k, '-')}" for k in varying) or "all")
    prefix = os.path.commonprefix(labels).rpartition("/")[0]  # experiment=ablation/x -> x
    return [label[len(prefix) + 1:] for label in labels] if prefix else labels


def group_jobs(jobs: list[Job]) -> list[Group]:
    """Jobs grouped by configuration, in the order the sweep first ran each configuration."""
    groups: dict[str, Group] = {}
    for job, label in zip(jobs, config_labels(jobs)):
        groups.setdefault(label, Group(label)).jobs.append(job)
    return list(groups.values())
