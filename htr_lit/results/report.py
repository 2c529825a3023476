"""Turn a multirun folder into a results table: `python -m htr_lit.results.report SWEEP_DIR` (or `htr-report`).

Reads every job's metrics.json and .hydra/overrides.yaml, groups the jobs by configuration (the
overrides that vary, seed excluded), and writes NAME.md (table of mean ± std over seeds, failed jobs
listed), NAME.csv (the same numbers, unrounded) and NAME.png (CER vs parameters and vs inference
speed), plus the validation CER by epoch (table and NAME_curves.png) when the jobs recorded it.
No W&B needed.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from htr_lit.results.sweep_results import METRICS, Group, Job, group_jobs, load_jobs

# column name -> (header, scale, decimals) for the markdown table
DISPLAY = {
    "test_cer": ("test CER %", 100.0, 2),
    "test_wer": ("test WER %", 100.0, 2),
    "val_cer": ("val CER %", 100.0, 2),
    "params": ("params (M)", 1e-6, 3),
    "train_s": ("train time (min)", 1 / 60, 1),
    "train_img_s": ("train img/s", 1.0, 1),
    "infer_img_s": ("infer img/s (batch 64)", 1.0, 0),
    "seq_infer_img_s": ("after-CNN img/s", 1.0, 0),
}


def _fmt(mean: float, std: float, scale: float, decimals: int) -> str:
    if math.isnan(mean):
        return "-"
    text = f"{mean * scale:.{decimals}f}"
    return text if math.isnan(std) else f"{text} ± {std * scale:.{decimals}f}"


def markdown_table(groups: list[Group], baseline: str | None = None) -> str:
    """One row per configuration: seeds done/failed, then mean ± std of every metric.

    With `baseline` (a configuration label), three more columns: inference speed (whole model, and
    after the CNN) relative to it, and the CER difference in units of the baseline's standard deviation.
    """
    base = next((g for g in groups if g.label == baseline), None)
    headers = ["configuration", "seeds ok", "failed"] + [DISPLAY[c][0] for _, c in METRICS]
    if base is not None:
        headers += [
            f"infer speed vs {baseline}",
            f"after-CNN speed vs {baseline}",
            f"Δ test CER vs {baseline} (its std)",
        ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for g in groups:
        row = [g.label, str(len(g.ok)), str(len(g.not_ok))]
        for key, col in METRICS:
            row.append(_fmt(*g.mean_std(key), *DISPLAY[col][1:]))
        if base is not None:
            for key in ("throughput/infer_img_s", "throughput/seq_infer_img_s"):
                ratio = g.mean_std(key)[0] / base.mean_std(key)[0]
                row.append("-" if math.isnan(ratio) else f"{ratio:.2f}x")
            (cer, _), (base_cer, base_std) = g.mean_std("test/cer"), base.mean_std("test/cer")
            delta = (cer - base_cer) / base_std if base_std > 0 else math.nan
            row.append("-" if math.isnan(delta) else f"{100 * (cer - base_cer):+.2f} pt ({delta:+.1f} std)")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def curve_table(groups: list[Group], key: str = "val/cer") -> str:
    """Validation CER (%) after each epoch, mean over seeds: shows whether a model was still improving
    when training ended. Empty when no job recorded a curve (`curve/val`)."""
    curves = {g.label: {e: m for e, m, _, _ in g.curve(key)} for g in groups}
    epochs = sorted({e for c in curves.values() for e in c})
    if not epochs:
        return ""
    lines = ["| configuration | " + " | ".join(f"ep {e}" for e in epochs) + " |", "|" + "---|" * (len(epochs) + 1)]
    for label, curve in curves.items():
        cells = [f"{100 * curve[e]:.1f}" if e in curve else "-" for e in epochs]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def failed_section(jobs: list[Job]) -> str:
    """Markdown list of the jobs that did not finish ok (failed, killed or still running)."""
    bad = [j for j in jobs if j.status != "ok"]
    if not bad:
        return "All jobs finished ok.\n"
    lines = [f"{len(bad)} of {len(jobs)} jobs did not finish ok:", ""]
    for j in bad:
        error = j.error.strip().splitlines()[0][:300] if j.error.strip() else ""
        lines.append(f"- `{j.path.name}` ({j.status}) `{' '.join(j.overrides)}`" + (f": {error}" if error else ""))
    return "\n".join(lines) + "\n"


def write_csv(groups: list[Group], path: Path) -> None:
    """configuration, n_ok, n_failed, then <metric>_mean and <metric>_std for every metric (raw units)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["configuration", "n_ok", "n_failed"] + [f"{c}_{s}" for _, c in METRICS for s in ("mean", "std")]
        )
        for g in groups:
            stats = [v for key, _ in METRICS for v in g.mean_std(key)]
            writer.writerow([g.label, len(g.ok), len(g.not_ok)] + ["" if math.isnan(v) else repr(v) for v in stats])


def build_report(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    name: str = "report",
    title: str | None = None,
    preamble: str = "",
    baseline: str | None = None,
    plot: bool = True,
) -> Path:
    """Write NAME.md, NAME.csv and (with `plot`) NAME.png into `out_dir` (default: the sweep folder)."""
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir else sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    jobs = load_jobs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(f"no job folders (metrics.json or .hydra/overrides.yaml) under {sweep_dir}")
    groups = group_jobs(jobs)
    write_csv(groups, out / f"{name}.csv")
    parts = [f"# {title or f'Sweep {sweep_dir.name}'}", ""]
    if preamble:
        parts += [preamble.strip(), ""]
    serial = next((j.metrics["throughput/serial_batch"] for j in jobs if "throughput/serial_batch" in j.metrics), None)
    speeds = (
        "Inference speeds re-timed one model at a time after the sweep "
        f"(`htr_lit/measuring/bench_speed.py`, batch {serial})."
        if serial
        else "Inference speeds as measured inside the sweep (64 test images, next to the other parallel job)."
    )
    parts += [
        "## Results",
        "",
        f"{len(jobs)} jobs, {len(groups)} configurations; mean ± sample std over the seeds that finished. "
        f"CER/WER in %, test = held-out split. {speeds} Raw numbers: [{name}.csv]({name}.csv).",
        "",
        markdown_table(groups, baseline),
    ]
    if plot:
        from htr_lit.results.report_plot import plot_groups

        if plot_groups(groups, out / f"{name}.png"):
            parts += [f"![test CER vs parameters and vs inference speed]({name}.png)", ""]
    curves = curve_table(groups)
    if curves:
        parts += [
            "## Learning curves",
            "",
            "Validation CER % after each epoch (mean over seeds; the best epoch's checkpoint is the one tested).",
            "",
            curves,
        ]
        if plot:
            from htr_lit.results.report_plot import plot_curves

            if plot_curves(groups, out / f"{name}_curves.png"):
                parts += [f"![validation CER by epoch]({name}_curves.png)", ""]
    parts += ["## Failed or unfinished jobs", "", failed_section(jobs)]
    md = out / f"{name}.md"
    md.write_text("\n".join(parts), encoding="utf-8")
    return md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="htr-report", description=__doc__.split("\n\n")[1])
    parser.add_argument("sweep_dir", help="a multirun folder (hydra.sweep.dir)")
    parser.add_argument("--out", default=None, help="output folder (default: the sweep folder)")
    parser.add_argument("--name", default="report", help="file stem of the outputs (default: report)")
    parser.add_argument("--title", default=None, help="markdown title (default: 'Sweep <folder name>')")
    parser.add_argument("--preamble", default=None, help="markdown file inserted before the table (protocol)")
    parser.add_argument("--baseline", default=None, help="configuration label to compare speed and CER with")
    parser.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    args = parser.parse_args(argv)
    preamble = Path(args.preamble).read_text(encoding="utf-8") if args.preamble else ""
    try:
        md = build_report(args.sweep_dir, args.out, args.name, args.title, preamble, args.baseline, not args.no_plot)
    except FileNotFoundError as err:
        print(f"htr-report: {err}", file=sys.stderr)
        return 2
    print(md.read_text(encoding="utf-8"))
    print(f"written: {md} (+ .csv{'' if args.no_plot else ', .png'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
