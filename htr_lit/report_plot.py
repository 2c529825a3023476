"""The sweep report's figure: test CER vs parameters and vs inference speed (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path

from htr_lit.sweep_results import Group


def plot_groups(groups: list[Group], path: Path) -> bool:
    """Two panels, one point per configuration with ± std error bars; False when nothing can be plotted."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    points = [g for g in groups if not math.isnan(g.mean_std("test/cer")[0])]
    if not points:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    panels = [("params", 1e-6, "parameters (M)"), ("throughput/infer_img_s", 1.0, "inference images/s (batch 64)")]
    for ax, (key, scale, xlabel) in zip(axes, panels):
        for g in points:
            x, xs = g.mean_std(key)
            y, ys = g.mean_std("test/cer")
            if math.isnan(x):
                continue
            ax.errorbar(x * scale, 100 * y, xerr=None if math.isnan(xs) else xs * scale,
                        yerr=None if math.isnan(ys) else 100 * ys, fmt="o", capsize=3)
            ax.annotate(g.label, (x * scale, 100 * y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test CER % (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    axes[0].set_title("CER vs model size")
    axes[1].set_title("CER vs inference speed (higher x = faster)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
