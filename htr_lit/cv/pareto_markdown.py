"""The `pareto` block of docs/performance.md: the CV CER vs inference speed table of every encoder x sequence
configuration, its Pareto front and whether one is the fastest model at equal accuracy (htr_lit.cv.pareto).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAME, WRITER = "pareto", "python -m htr_lit.cv.pareto"  # its block of performance.md


def _num(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{x:,.{digits}f}"


def _ratio(x: float | None) -> str:
    return "" if x is None else f"x{x:.2f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cer(r: Mapping[str, Any]) -> str:
    if "cer" not in r:
        return ""
    std = r["cer"]["std"]
    return f"{100 * r['cer']['mean']:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


def table(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One markdown row per configuration: measured ones by inference speed (fastest first), then the rest."""
    lines = [
        "| configuration | folds | CV CER % | vs BiLSTM CRNN (points) | infer img/s (b64) | vs BiLSTM CRNN "
        "| train img/s | vs BiLSTM CRNN | params | Pareto front | meets goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    measured = sorted((n for n, r in rows.items() if not r["missing"]), key=lambda n: -rows[n]["infer_img_s_b64"])
    for name in measured + sorted(n for n, r in rows.items() if r["missing"]):
        r = rows[name]
        folds = r["missing"] or ", ".join(map(str, r["folds"]))
        gap = "" if r.get("cer_gap") is None else f"{100 * r['cer_gap']:+.2f}"
        params = "" if r.get("params") is None else f"{r['params']:,}"
        front, goal = ("", "") if r["missing"] else (_yes(r["on_front"]), _yes(r["meets_goal"]))
        lines.append(
            f"| {name} | {folds} | {_cer(r)} | {gap} | {_num(r.get('infer_img_s_b64'))} "
            f"| {_ratio(r.get('infer_ratio'))} | {_num(r.get('train_img_s'))} | {_ratio(r.get('train_ratio'))} "
            f"| {params} | {front} | {goal} |"
        )
    return lines


def _speed_line(result: Mapping[str, Any]) -> str:
    run, m = result["speed_run"], result["speed_run"].get("machine") or {}
    where = f" on {m['cpu']} ({m.get('torch_threads', '?')} torch threads, {m.get('date_utc', '?')} UTC)" if m else ""
    quick = " A quick smoke run: not numbers to cite." if run.get("quick") else ""
    skipped = run.get("skipped_rows") or []
    left = f" Bench rows with other overrides are left out: {'; '.join(skipped)}." if skipped else ""
    common = run.get("run_overrides") or []
    every = f" Every row ran with `{' '.join(common)}`." if common else ""
    return (f"Speed: `{result.get('perf_file', 'performance.json')}`, {run['device']} {run['precision']} rows"
            f"{where}, input 64 x 256 px.{every}{quick}{left}")


def section(result: Mapping[str, Any], png: str) -> str:
    """The markdown block: what is compared, the figure, the table and the verdict sentence."""
    rows, base = result["configs"], result["baseline"]
    goal = result["goal"]
    fold_sets = {tuple(r["folds"]) for r in rows.values() if not r["missing"]}
    lines = [
        "## The fastest model at equal accuracy",
        "",
        f"Goal: writer cross-validated CER (greedy decoding) at or below the BiLSTM CRNN's ({base}), with at least "
        f"x{goal['infer_ratio']:g} its inference img/s at batch 64 and x{goal['train_ratio']:g} its training img/s. "
        "Each configuration is compared with the BiLSTM CRNN only over the folds both finished (folds column; "
        "CER mean ± sample std over them, the points column is its CER minus the BiLSTM CRNN's over the same "
        "folds). The Pareto front holds the configurations no other one beats on both inference speed and CER.",
        "",
        _speed_line(result),
        "",
    ]
    if len(fold_sets) > 1:
        lines += ["The fold sets differ between configurations, so the plotted CERs are not all over the same "
                  "folds; the goal column still compares each one with the BiLSTM CRNN over its own folds.", ""]
    extra = [f"{n}: `{o}`" for n, r in rows.items() for o in r.get("cv_overrides", [])]
    if extra:
        lines += ["Cross-validated with extra overrides (not the plain recipe): " + "; ".join(extra) + ".", ""]
    lines += [f"![CV CER vs inference img/s]({png})", "", *table(rows), "", result["verdict"]]
    return "\n".join(lines) + "\n"
