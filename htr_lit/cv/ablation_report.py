"""The writer-fold ablation's report: per configuration mean ± std over its finished folds, each one paired
with the BiLSTM fold by fold and writer by writer, and learning curves -> ablation_cv.{md,json,_curves.png}.

It reads what `python -m htr_lit.cv` left in each configuration's folder: the greedy summaries (`cv.json`,
`cv_folds_*.json`; for a fold in several, the table written last:
htr_lit/cv/tables.py), `fold_<i>/metrics.json` (parameters) and
each fold's CSV log (curves). A configuration with no finished fold is listed as not run yet.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from htr_lit.config import shown_path
from htr_lit.cv.compare import format_p, format_std_points, pair_folds, paired_stats
from htr_lit.cv.curves import mean_curve, plot_curves, read_val_curve
from htr_lit.cv.folds import FOLD_DIR
from htr_lit.cv.tables import load_cv_folds
from htr_lit.results.stats import mean_std
from htr_lit.runs.records import read_metrics

BASELINE = "bilstm"
FIGURES = (("test/cer", "test CER %"), ("test/wer", "test WER %"), ("test/word_acc", "word acc %"))
NAME = "ablation_cv"


@dataclass(frozen=True)
class CvConfig:
    """One configuration of the ablation: its name, the experiment it trains, its `htr_lit.cv` folder."""

    name: str
    experiment: str
    cv_dir: Path


def load_folds(cv_dir: Path, folds: Sequence[int] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The finished folds among `folds` (by index; None: every fold) in cv_dir's greedy tables, and the tables
    read (htr_lit/cv/tables.py's rule). Each fold dict is cv.py's plus `overrides`."""
    found, used = load_cv_folds(cv_dir, "greedy")
    return [f for f in found if folds is None or f["fold"] in folds], used


def fold_stats(values: list[float]) -> dict[str, float | None]:
    """Mean ± std over folds as the reports record it (`std` None for a single fold)."""
    mean, std = mean_std(values)
    return {"mean": mean, "std": None if math.isnan(std) else std}


def config_numbers(config: CvConfig, folds: Sequence[int]) -> dict[str, Any]:
    """Everything the report says about one configuration (figures as fractions, per fold and mean ± std)."""
    done, sources = load_folds(config.cv_dir, folds)
    out: dict[str, Any] = {"experiment": config.experiment, "cv_dir": shown_path(config.cv_dir),
                           "sources": [shown_path(s) for s in sources],
                           "folds": [f["fold"] for f in done], "fold_records": done}
    if not done:
        return out
    for key, _ in FIGURES:
        out[key] = {**fold_stats([f[key] for f in done]), "per_fold": {f["fold"]: f[key] for f in done}}
    out["epochs"] = {f["fold"]: f.get("epochs") for f in done}
    out["train_min"] = {f["fold"]: f["train_s"] / 60 for f in done if f.get("train_s") is not None}
    params = {f["fold"]: (read_metrics(config.cv_dir / FOLD_DIR.format(f["fold"])) or {}).get("params")
              for f in done}
    out["params"] = {i: p for i, p in params.items() if p is not None}
    out["overrides"] = sorted({" ".join(f["overrides"]) for f in done} - {""})
    curves = [read_val_curve(config.cv_dir / FOLD_DIR.format(f["fold"])) for f in done]
    out["curves"] = {f["fold"]: c for f, c in zip(done, curves) if c}
    out["curve_mean"] = mean_curve([c for c in curves if c])
    return out


def paired_with_baseline(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Test CER of `other` minus the baseline's over the folds both finished (and those folds' writers)."""
    if not other["folds"]:
        return {"pairs": 0, "error": "not run yet"}
    try:
        pairs = pair_folds({"folds": base["fold_records"]}, {"folds": other["fold_records"]})
    except SystemExit as e:  # different writers under the same fold index: not comparable
        return {"pairs": 0, "error": str(e).removeprefix("error: ")}
    if not pairs:
        return {"pairs": 0}
    per_fold = {fa["fold"]: fb["test/cer"] - fa["test/cer"] for fa, fb in pairs}
    return {"pairs": len(pairs), "per_fold": per_fold, **paired_stats(pairs)}


def _pm(stats: dict[str, float | None]) -> str:
    mean, std = stats["mean"], stats["std"]
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def _params(params: dict[int, int]) -> str:
    values = sorted(set(params.values()))
    return "" if not values else f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}–{values[-1]:,}"


def config_table(numbers: dict[str, dict[str, Any]], folds: Sequence[int]) -> list[str]:
    """Markdown rows: one per configuration, mean ± sample std over its finished folds."""
    lines = [
        "| configuration | experiment | folds done | " + " | ".join(n for _, n in FIGURES)
        + " | epochs per fold | parameters | train min per fold |",
        "|---|---|---|" + "---:|" * len(FIGURES) + "---|---:|---:|",
    ]
    for name, n in numbers.items():
        if not n["folds"]:
            lines.append(f"| {name} | `{n['experiment']}` | not run yet |" + " |" * (len(FIGURES) + 3))
            continue
        done = f"{len(n['folds'])} of {len(folds)} ({', '.join(map(str, n['folds']))})"
        figures = " | ".join(_pm(n[key]) for key, _ in FIGURES)
        epochs = ", ".join(str(e) for e in n["epochs"].values())
        minutes = f"{statistics.fmean(n['train_min'].values()):.0f}" if n["train_min"] else ""
        lines.append(f"| {name} | `{n['experiment']}` | {done} | {figures} | {epochs} | {_params(n['params'])} "
                     f"| {minutes} |")
    return lines


def paired_table(paired: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: two per configuration (over folds, over writers), B = the configuration, A = BiLSTM."""
    lines = [
        "| configuration | paired over | pairs | per fold (points) | mean (points) | std | better / worse / tied "
        "| sign test p | permutation p |",
        "|---|---|---:|---|---:|---:|---|---:|---:|",
    ]
    for name, p in paired.items():
        if not p["pairs"]:
            why = p.get("error", "no fold finished by both")
            lines.append(f"| {name} | | 0 | {why} | | | | | |")
            continue
        per_fold = ", ".join(f"{i}: {100 * d:+.2f}" for i, d in p["per_fold"].items())
        for label in ("folds", "writers"):
            s = p[label]
            lines.append(
                f"| {name} | {label} | {s['pairs']} | {per_fold if label == 'folds' else ''} "
                f"| {100 * s['mean_diff']:+.2f} | {format_std_points(s)} "
                f"| {s['b_better']} / {s['b_worse']} / {s['ties']} | {format_p(s['sign_p'])} "
                f"| {format_p(s['permutation_p'])} |"
            )
    return lines


def _folds(n: int) -> str:
    return f"{n} fold" + ("" if n == 1 else "s")


def _machine() -> str:
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return (f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}), Python "
            f"{platform.python_version()}, torch {torch}; written {datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}")


def render(numbers: dict[str, dict[str, Any]], paired: dict[str, dict[str, Any]], folds: Sequence[int],
           command: str, curves_png: str | None) -> str:
    """The whole markdown report."""
    fold_list = ", ".join(map(str, folds))
    lines = [
        "# Dilated convolutions vs BiLSTM over writer folds (DHSD recipe)",
        "",
        "Every configuration trains with the DHSD recipe of `crnn_dhsd` (ink-cropped images, the pre-trained CNN "
        "encoder, 4,000 synthetic names mixed into each epoch, its epochs and learning rate), only the sequence "
        "model differs; all are cross-validated on the same writer folds of `python -m htr_lit.cv` (seed 0, "
        f"5 folds), here folds {fold_list}. Test figures are on each fold's unseen test writers, greedy "
        "decoding, best epoch by validation CER; mean ± sample std over the finished folds.",
        "",
        "## Per configuration",
        "",
        *config_table(numbers, folds),
        "",
        f"## Against the BiLSTM ({BASELINE}), paired",
        "",
    ]
    base = numbers.get(BASELINE)
    if base is None:
        lines.append(f"No pairing: `{BASELINE}` is not among the configurations.")
    elif not base["folds"]:
        lines.append(f"No pairing yet: `{BASELINE}` has no finished fold.")
    else:
        best_p = 0.5 ** (len(base["folds"]) - 1)
        lines += [
            "Test CER of the configuration minus the BiLSTM's in points (< 0: better than the BiLSTM), over the "
            "folds both finished and over those folds' test writers; two-sided exact sign test and paired "
            f"permutation (sign-flip) test (`htr_lit/cv/paired.py`). With {_folds(len(base['folds']))} the "
            f"smallest p-value over folds is {best_p:.3g}: the writers carry the finer evidence, though writers "
            "of one fold share a model and are not independent.",
            "",
            *paired_table(paired),
        ]
    lines += ["", "## Learning curves", ""]
    if curves_png:
        lines += [f"![Validation CER by epoch]({curves_png})", "",
                  "Validation CER after each epoch, from each fold's CSV log (`fold_<i>/csv/metrics.csv`): thin "
                  "lines one fold each, thick the mean over the folds that reached that epoch."]
    else:
        lines.append("No learning curve yet (no finished fold with a CSV log).")
    lines += ["", "## Run", "", f"Machine: {_machine()}.", "", f"Command: `{command}`.", ""]
    sources = [f"{name}: " + ", ".join(f"`{shown_path(s)}`" for s in n["sources"])
               for name, n in numbers.items() if n["sources"]]
    if sources:
        lines += ["Results read from " + "; ".join(sources) + ".", ""]
    extra = [f"{name}: `{o}`" for name, n in numbers.items() for o in n.get("overrides", [])]
    if extra:
        lines += ["Trained with extra overrides (not the plain recipe): " + "; ".join(extra) + ".", ""]
    return "\n".join(lines)


def write_report(configs: Sequence[CvConfig], folds: Sequence[int], out: Path, command: str) -> dict[str, Any]:
    """Write `<out>/ablation_cv.md`, `.json` and `_curves.png` (docs/results.md links them); returns the numbers."""
    numbers = {c.name: config_numbers(c, folds) for c in configs}
    base = numbers.get(BASELINE)
    paired = {} if not base or not base["folds"] else {
        name: paired_with_baseline(base, n) for name, n in numbers.items() if name != BASELINE
    }
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{NAME}_curves.png"
    drew = plot_curves({name: list(n.get("curves", {}).values()) for name, n in numbers.items()}, png)
    md = out / f"{NAME}.md"
    md.write_text(render(numbers, paired, folds, command, png.name if drew else None), encoding="utf-8")
    result = {
        "folds_requested": list(folds), "baseline": BASELINE, "command": command, "machine": _machine(),
        "configs": {name: {k: v for k, v in n.items() if k != "fold_records"} for name, n in numbers.items()},
        "paired": paired,
    }
    (out / f"{NAME}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result
