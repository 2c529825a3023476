"""The figure of htr_lit.cv.pareto: CV CER % against inference img/s at batch 64 (log x), one labelled
point per configuration with its std over folds, the Pareto front as a step line, the BiLSTM CRNN marked and
the goal region (at least `result["goal"]["infer_ratio"]` x its speed, at most its CER) shaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from htr_lit.cv.curves import log_minor_label


def plot(result: Mapping[str, Any], path: Path) -> None:
    """Draw `result` (pareto.analyse's) into `path` (PNG); with nothing measured, an empty figure saying so."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows, base = result["configs"], result["baseline"]
    goal = result["goal"]["infer_ratio"]  # times the baseline's inference speed
    shown = {n: r for n, r in rows.items() if not r["missing"]}
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    ax.set_xlabel("inference img/s at batch 64 (log scale)")
    ax.set_ylabel("CV test CER % (greedy), mean ± std over folds")
    ax.set_title("CV CER vs inference speed per encoder + sequence model")
    if not shown:
        ax.text(0.5, 0.5, "no configuration measured on both sides yet", ha="center", va="center",
                transform=ax.transAxes)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    speed = {n: r["infer_img_s_b64"] for n, r in shown.items()}
    cer = {n: 100 * r["cer"]["mean"] for n, r in shown.items()}
    ref = shown.get(base)
    x_hi = max([*speed.values(), goal * speed[base] if ref else 0.0]) * 1.35
    x_lo = min(speed.values()) / 1.35
    y_hi = max(cer[n] + 100 * (r["cer"]["std"] or 0) for n, r in shown.items()) * 1.15
    if ref:  # the goal: x >= goal x the BiLSTM CRNN's speed, y <= its CER
        ax.fill_between([goal * speed[base], x_hi], 0, cer[base], color="tab:green", alpha=0.15,
                        label=f"goal: >= {goal:g}x BiLSTM CRNN speed, CER <= its")
    front = result["front"]
    ax.plot([speed[n] for n in front], [cer[n] for n in front], drawstyle="steps-pre", color="tab:red",
            linewidth=1.5, label="Pareto front")
    for name, r in shown.items():
        std = r["cer"]["std"]
        is_base = name == base
        ax.errorbar(speed[name], cer[name], yerr=None if std is None else 100 * std, fmt="*" if is_base else "o",
                    markersize=14 if is_base else 7, color="black" if is_base else "tab:blue", capsize=3,
                    label="BiLSTM CRNN (compact+bilstm)" if is_base else None)
        folds = f"{len(r['folds'])} fold{'' if len(r['folds']) == 1 else 's'}"
        ax.annotate(f"{name} ({folds})", (speed[name], cer[name]), textcoords="offset points", xytext=(6, 6),
                    fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(log_minor_label))
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, y_hi)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left", fontsize=8)  # slow and accurate: the corner no model holds
    fig.savefig(path, dpi=110)
    plt.close(fig)
