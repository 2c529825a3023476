"""Validation CER by epoch of cross-validated folds: read from each fold's Lightning CSV log, averaged over
folds and drawn as one figure (matplotlib, Agg backend) for the writer-fold ablation report.

A fold's log is `fold_<i>/csv/metrics.csv` (logger `csv`, `version: ""`): one row per logged step, the
validation figures (`val/cer`, ...) on the row that closes an epoch (`epoch` counted from 0). The final
validation of the best checkpoint (htr_lit.train) is one more row (`epoch` = metrics.json's `epochs`), not a point
of the curve. A run resumed with `ckpt_path=last` has a CSV log of its own epochs only; the other epochs come
from metrics.json's `curve/val`, which every checkpoint carries.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

from htr_lit.results.report_plot import style

CSV_LOG = Path("csv") / "metrics.csv"
Curve = dict[int, float]  # epoch (counted from 1, as metrics.json's `epochs`) -> validation CER (fraction)


def read_val_curve(fold_dir: Path, key: str = "val/cer") -> Curve:
    """`key` after each epoch of one fold: the CSV log's last value per epoch, gaps filled from metrics.json."""
    try:
        record = json.loads((fold_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    trained = record.get("epochs") if record.get("status") == "ok" else None  # final validation rows: epoch >= this
    curve: Curve = {}
    log = fold_dir / CSV_LOG
    if log.is_file():
        with log.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if not (row.get("epoch") and row.get(key)):
                    continue
                epoch = int(float(row["epoch"]))
                if trained is None or epoch < trained:
                    curve[epoch + 1] = float(row[key])  # the last row of an epoch wins
    for point in record.get("curve/val") or []:
        if isinstance(point, dict) and isinstance(point.get(key), int | float) and "epoch" in point:
            curve.setdefault(int(point["epoch"]), float(point[key]))
    return dict(sorted(curve.items()))


def mean_curve(curves: list[Curve]) -> list[tuple[int, float, int]]:
    """(epoch, mean over the folds that reached it, how many did) for every epoch of any curve."""
    out = []
    for epoch in sorted({e for c in curves for e in c}):
        values = [c[epoch] for c in curves if epoch in c]
        out.append((epoch, statistics.fmean(values), len(values)))
    return out


def log_minor_label(value: float, _pos: int) -> str:
    """Label the minor ticks 2, 3, 5 (x 10^k) of the log axis, leave the rest blank."""
    lead = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(lead, 6) in (2, 3, 5) else ""


def plot_curves(curves: dict[str, list[Curve]], path: Path) -> bool:
    """One colour per configuration: its mean curve (thick, markers) and one thin line per fold; log y.
    False (and no file) when no configuration has a curve."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    drawn = [(i, name, [c for c in folds if c]) for i, (name, folds) in enumerate(curves.items())]
    drawn = [(i, name, folds) for i, name, folds in drawn if folds]
    if not drawn:
        return False
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for i, name, folds in drawn:
        color, marker = style(i)
        for c in folds:
            ax.plot(list(c), [100 * v for v in c.values()], "-", color=color, alpha=0.35, linewidth=0.8)
        mean = mean_curve(folds)
        ax.plot([e for e, _, _ in mean], [100 * m for _, m, _ in mean], "-", marker=marker, color=color,
                linewidth=2, label=f"{name} ({len(folds)} fold{'' if len(folds) == 1 else 's'})")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("validation CER % (log scale)")
    ax.set_yscale("log")  # the last epochs differ by a point or two, the first ones by tens
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(log_minor_label))
    ax.grid(alpha=0.3, which="both")
    ax.set_title("Validation CER by epoch: mean over writer folds (thick), each fold (thin)")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
