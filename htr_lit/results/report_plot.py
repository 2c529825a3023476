"""The sweep report's figure: test CER vs parameters and vs inference speed (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path

from htr_lit.results.sweep_results import Group

MARKERS = ("o", "s", "^", "D")
# Matplotlib's 10 default colours, then 6 more, so that 11-16 configurations still get one colour each.
COLORS = tuple(f"C{i}" for i in range(10)) + ("black", "gold", "navy", "lime", "maroon", "teal")


def style(i: int) -> tuple[str, str]:
    """(colour, marker) of the i-th configuration, the same in every figure."""
    return COLORS[i % len(COLORS)], MARKERS[i // len(COLORS) % len(MARKERS)]


def plot_groups(groups: list[Group], path: Path) -> bool:
    """Two panels, one point per configuration with ± std error bars; False when nothing can be plotted."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    points = [g for g in groups if not math.isnan(g.mean_std("test/cer")[0])]
    if not points:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), constrained_layout=True)
    panels = [("params", 1e-6, "parameters (M)"), ("throughput/infer_img_s", 1.0, "inference images/s (batch 64)")]
    for ax, (key, scale, xlabel) in zip(axes, panels):
        for i, g in enumerate(points):  # the same colour and marker for a configuration in both panels
            x, xs = g.mean_std(key)
            y, ys = g.mean_std("test/cer")
            if math.isnan(x):
                continue
            color, marker = style(i)
            ax.errorbar(x * scale, 100 * y, xerr=None if math.isnan(xs) else xs * scale,
                        yerr=None if math.isnan(ys) else 100 * ys, fmt=marker,
                        color=color, capsize=3, label=g.label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test CER % (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    axes[0].set_title("CER vs model size")
    axes[1].set_title("CER vs inference speed (higher x = faster)")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_curves(groups: list[Group], path: Path, key: str = "val/cer") -> bool:
    """Validation CER by epoch, one line per configuration (mean over seeds, ± std band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    curves = [(i, g, g.curve(key)) for i, g in enumerate(groups)]
    curves = [c for c in curves if c[2]]
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for i, g, curve in curves:
        epochs = [e for e, *_ in curve]
        mean = [100 * m for _, m, _, _ in curve]
        std = [0.0 if math.isnan(s) else 100 * s for _, _, s, _ in curve]
        color, marker = style(i)
        ax.plot(epochs, mean, "-", marker=marker, color=color, label=g.label)
        ax.fill_between(epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                        color=color, alpha=0.12, linewidth=0)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel(f"{key} % (mean ± std over seeds; log scale)")
    ax.set_yscale("log")  # late epochs differ by a point or two, early ones by tens
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if v in (15, 30, 50) else ""))
    ax.grid(alpha=0.3, which="both")
    ax.set_title("Validation CER by epoch")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
