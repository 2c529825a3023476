"""The length benchmark's report: performance_length.json, the figure, and its section of performance.md.

The section sits between markers at the end of the document, so re-running `make bench-length` replaces it
and keeps everything else (`make bench` keeps it too: bench_markdown carries it over).
"""

from __future__ import annotations

import json
from pathlib import Path

from htr_lit.results import doc_block

NAME, WRITER = "bench_length", "make bench-length"  # its block of performance.md
REFERENCE, BASELINE = "dilated", "bilstm"


def crossovers(rows: list[dict], key: str, higher_is_better: bool = True) -> str:
    """Where the reference dilated model overtakes (or falls behind) the BiLSTM on `key`, in words."""
    by = {(r["sequence"], r["width"]): r[key] for r in rows}
    widths = sorted({r["width"] for r in rows if (REFERENCE, r["width"]) in by and (BASELINE, r["width"]) in by})
    if not widths:
        return "n/a"
    faster = [(by[(REFERENCE, w)] > by[(BASELINE, w)]) == higher_is_better for w in widths]
    if all(faster):
        return f"faster at every width ({widths[0]}-{widths[-1]} px)"
    if not any(faster):
        return f"slower at every width ({widths[0]}-{widths[-1]} px)"
    changes = [f"{'faster' if f else 'slower'} from {w} px" for i, (w, f) in enumerate(zip(widths, faster))
               if i == 0 or f != faster[i - 1]]
    return ", ".join(changes)


def _rf(r: dict) -> str:
    return "line" if r["rf_frames"] is None else str(r["rf_frames"])


def markdown(report: dict) -> str:
    m, s, rows = report["machine"], report["settings"], report["rows"]
    lines = [
        "## Speed against sequence length",
        "",
        f"Measured by `python -m htr_lit.measuring.bench_length{' --smoke' if report['smoke'] else ''}` "
        f"({'smoke run: tiny models, not figures to cite' if report['smoke'] else 'full run'}) on {m['date_utc']} "
        f"UTC, {report['device']} {report['precision']}, {m['cpu']} ({m['cpu_count']} logical CPUs, "
        f"{m['torch_threads']} torch thread(s)" + (f", GPU {m['gpu']}" if m.get("gpu") else "")
        + f"); 1-min load average at start {m['load_avg_1m_at_start']}; {report['seconds']} s in all."
        + (f" **{report['note']}**" if report.get("note") else ""),
        "",
        f"Images of height {s['height']} px and the widths below (T = frames after the CNN), random pixels. "
        f"Batches hold a constant number of pixels: training {s['train_batch']} and inference {s['infer_batch']} "
        "images at 256 px, x 256 / width. `train` = forward + CTC + backward + AdamW step; `infer` under "
        "`torch.inference_mode`; `b1` = latency of one image. *After CNN* = sequence model + head on precomputed "
        f"encoder features. Medians of {s['repeats']} repeat(s). RF = receptive field of the sequence model in "
        "frames (analytic / measured: the span of input frames with a nonzero gradient on the middle output "
        "frame, cut at the line's ends; `line` = the whole line), *sees* = mean share of the line one output "
        "frame sees. The parameters are the sequence model's. Figure: `docs/performance_length.png`.",
        "",
        "| model (sequence params) | width px | T | RF (analytic / measured) | sees | train img/s | infer img/s | "
        "b1 ms | after CNN: train img/s | infer img/s | b1 ms |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['sequence']} ({r['seq_params'] / 1e6:.2f} M) | {r['width']} | {r['frames']} | "
            f"{_rf(r)} / {r['rf_frames_measured']} | "
            f"{100 * r['line_coverage']:.0f} % | {r['train_img_s']:,.1f} | {r['infer_img_s']:,.1f} | "
            f"{r['latency_ms_b1']:.2f} | {r['seq_train_img_s']:,.1f} | {r['seq_infer_img_s']:,.1f} | "
            f"{r['seq_latency_ms_b1']:.2f} |")
    lines += ["", f"Dilated reference vs BiLSTM, as measured here: whole-model training "
              f"{crossovers(rows, 'train_img_s')}; inference {crossovers(rows, 'infer_img_s')}; batch-1 latency "
              f"{crossovers(rows, 'latency_ms_b1', higher_is_better=False)}; after the CNN: training "
              f"{crossovers(rows, 'seq_train_img_s')}, inference {crossovers(rows, 'seq_infer_img_s')}, "
              f"batch-1 latency {crossovers(rows, 'seq_latency_ms_b1', higher_is_better=False)}."]
    lines += ["", "Conv models whose middle frame sees the whole line (RF >= T): " + _seeing(rows, 1),
              "", "Conv models whose every frame sees the whole line (RF >= 2T - 1): " + _seeing(rows, 2),
              "", "Re-run: `make bench-length` (`ARGS='--widths 128,2048 --sequences bilstm,dilated'` for a subset). "
              "On a GPU machine `bash scripts/gpu_check.sh` runs it with `--device cuda`, next to bf16-mixed / "
              "16-mixed trainings, 2-GPU DDP and `make bench`, into `docs/performance_gpu.json`."]
    return "\n".join(lines) + "\n"


def _seeing(rows: list[dict], factor: int) -> str:
    """The conv models with RF >= factor * T - (factor - 1) and the widest such width, in words."""
    widest: dict[str, int] = {}
    for r in rows:
        if r["rf_frames"] is not None and r["rf_frames"] >= factor * r["frames"] - (factor - 1):
            widest[r["sequence"]] = max(widest.get(r["sequence"], 0), r["width"])
    return ("; ".join(f"{k} up to {v} px" for k, v in widest.items()) or "none at these widths") + "."


def plot(report: dict, path: Path) -> Path:
    """Four log-log panels against the width: whole-model img/s, after-CNN img/s, b1 latency, line coverage."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    rows = report["rows"]
    names = list(dict.fromkeys(r["sequence"] for r in rows))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), constrained_layout=True)
    panels = [(axes[0, 0], "", "img/s", "whole model: training (dashed), inference (solid)"),
              (axes[0, 1], "seq_", "img/s", "after the CNN: training (dashed), inference (solid)"),
              (axes[1, 0], None, "ms", "batch-1 latency: whole model (dashed), after the CNN (solid)")]
    for i, name in enumerate(names):
        mine = sorted((r for r in rows if r["sequence"] == name), key=lambda r: r["width"])
        w, color = [r["width"] for r in mine], f"C{i}"
        for ax, prefix, _, _ in panels:
            if prefix is None:
                ax.plot(w, [r["latency_ms_b1"] for r in mine], "--", color=color)
                ax.plot(w, [r["seq_latency_ms_b1"] for r in mine], "o-", color=color, label=name)
            else:
                ax.plot(w, [r[f"{prefix}train_img_s"] for r in mine], "--", color=color)
                ax.plot(w, [r[f"{prefix}infer_img_s"] for r in mine], "o-", color=color, label=name)
        axes[1, 1].plot(w, [100 * r["line_coverage"] for r in mine], "o-", color=color, label=name)
    for ax, _, unit, title in panels:
        ax.set(yscale="log", ylabel=unit, title=title)
    axes[1, 1].set(ylabel="%", ylim=(0, 105), title="share of the line one output frame sees")
    widths = sorted({r["width"] for r in rows})
    for ax in axes.flat:
        ax.set(xscale="log", xlabel="image width (px)")
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured widths on the x axis
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Speed against sequence length ({report['device']}, {report['machine']['torch_threads']} "
                 f"thread(s){', smoke run' if report['smoke'] else ''})")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write(report: dict, out: Path, doc: Path) -> list[Path]:
    """OUT/performance_length.json and .png, and the section spliced into `doc`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "performance_length.json"
    data.write_text(json.dumps(report, indent=2) + "\n")
    figure = plot(report, out / "performance_length.png")
    old = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    doc.write_text(doc_block.splice(markdown(report), old, NAME, WRITER), encoding="utf-8")
    return [data, figure, doc]
