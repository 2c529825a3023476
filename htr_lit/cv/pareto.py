"""The fastest model at equal accuracy: cross-validated CER against inference speed, per encoder x sequence model.

    python -m htr_lit.cv.pareto [--cv-root outputs/cv] [--perf docs/performance.json] [--out docs]
        [--map ENCODER+SEQUENCE=CVDIR ...]

Speed comes from the rows `python -m htr_lit.measuring.bench` wrote (cpu, 32-true only; `--encoders` rows carry
`model/encoder=...` in their overrides), accuracy from the greedy summaries `python -m htr_lit.cv` wrote in each
configuration's folder (`cv.json`, `cv_folds_*.json`; the table written last wins per fold: cv/tables.py).
A configuration is compared with the BiLSTM CRNN (compact+bilstm) only over the folds both finished. The goal:
CER at or below the BiLSTM CRNN's with at least 2x its inference img/s at batch 64 and 1.5x its training img/s.
Writes `<out>/pareto.{png,json}` and the `pareto` block of `<out>/performance.md`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from htr_lit.config import project_root, shown_path
from htr_lit.cv.ablation_report import fold_stats, load_folds
from htr_lit.cv.compare import pair_folds
from htr_lit.cv.pareto_markdown import NAME, WRITER, section
from htr_lit.cv.pareto_plot import plot
from htr_lit.results import doc_block

DEFAULT_ENCODER = "compact"  # what a bench row without a model/encoder override ran
SEQUENCE_ALIASES = {"none": "cnn_only"}  # the CNN-only control's option was named `none` before d12ea46
SPEED_RUN = ("cpu", "32-true")  # the only device and precision compared
GOAL_INFER, GOAL_TRAIN = 2.0, 1.5  # times the BiLSTM CRNN's inference (batch 64) and training img/s


@dataclass(frozen=True, order=True)
class Config:
    """One point of the plot: a model/encoder option with a model/sequence option."""

    encoder: str
    sequence: str

    @property
    def name(self) -> str:
        return f"{self.encoder}+{self.sequence}"

    @classmethod
    def parse(cls, name: str) -> Config:
        encoder, plus, sequence = name.partition("+")
        if not plus or not encoder or not sequence:
            raise ValueError(f"configuration {name!r}: expected ENCODER+SEQUENCE, e.g. separable+tcn")
        return cls(encoder, SEQUENCE_ALIASES.get(sequence, sequence))


BASELINE = Config("compact", "bilstm")
DEFAULT_MAP = {  # configuration -> its htr_lit.cv folder under --cv-root
    "compact+bilstm": "crnn_dhsd",
    "compact+dilated": "dilated_dhsd",
    "compact+cnn_only": "ablation_cnn_only",
    "compact+tcn": "ablation_tcn",
    "separable+bilstm": "separable_bilstm",
    "separable+dilated": "separable_dilated",
    "separable+cnn_only": "separable_cnn_only",
}


# ---------------------------------------------------------------------------------------------- reading
def _encoder_and_rest(row: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The model/encoder option a bench row ran (the default when none is named) and its other overrides."""
    overrides = list(row.get("overrides", []))
    encoders = [o.split("=", 1)[1] for o in overrides if o.startswith("model/encoder=")]
    return (encoders[-1] if encoders else DEFAULT_ENCODER), [o for o in overrides if not o.startswith("model/encoder=")]


def speed_rows(perf: Mapping[str, Any]) -> tuple[dict[Config, dict[str, Any]], list[str], list[str]]:
    """The cpu 32-true bench rows by configuration (a later row of the same one wins); the overrides every such
    row ran with (bench's `--override`: a setting of the whole run); and the rows left out because they add
    other overrides than model/encoder to those (variants, not the option itself)."""
    runs = [r for r in perf.get("models", []) if (r.get("device"), r.get("precision")) == SPEED_RUN]
    rests = [_encoder_and_rest(r)[1] for r in runs]
    common = [o for o in rests[0] if all(o in rest for rest in rests)] if rests else []
    rows: dict[Config, dict[str, Any]] = {}
    skipped = []
    for row, rest in zip(runs, rests):
        if any(o not in common for o in rest):
            skipped.append(" ".join([row["sequence"], *row.get("overrides", [])]))
            continue
        rows[Config.parse(f"{_encoder_and_rest(row)[0]}+{row['sequence']}")] = row
    return rows, common, skipped


def _read_perf(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def cv_dirs(cv_root: Path, extra: Sequence[str] = ()) -> dict[Config, Path]:
    """DEFAULT_MAP plus `NAME=CVDIR` entries (added or replacing); a relative CVDIR is under cv_root."""
    pairs = list(DEFAULT_MAP.items())
    for item in extra:
        name, eq, folder = item.partition("=")
        if not eq or not folder:
            raise ValueError(f"--map {item!r}: expected ENCODER+SEQUENCE=CVDIR, e.g. separable+tcn=separable_tcn")
        pairs.append((name, folder))
    return {Config.parse(name): cv_root / folder for name, folder in pairs}  # absolute folders stay absolute


# ---------------------------------------------------------------------------------------------- comparing


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the points (speed, error) no other point beats: as fast or faster and as accurate or more, and
    strictly better in one; ordered by speed."""
    def dominated(s: float, e: float) -> bool:
        return any(s2 >= s and e2 <= e and (s2 > s or e2 < e) for s2, e2 in points.values())
    return sorted((n for n, (s, e) in points.items() if not dominated(s, e)), key=lambda n: points[n][0])


def compare(folds: list[dict[str, Any]], base_folds: list[dict[str, Any]]) -> dict[str, Any]:
    """CER of a configuration (its fold records) and of the BiLSTM CRNN over the folds both finished
    (fractions), or why they cannot be compared."""
    try:
        pairs = pair_folds({"folds": base_folds}, {"folds": folds})
    except SystemExit as e:  # the same fold index with other test writers: another fold split
        return {"missing": str(e).removeprefix("error: ")}
    if not pairs:
        done = ", ".join(str(f["fold"]) for f in folds)
        base = ", ".join(str(f["fold"]) for f in base_folds)
        return {"missing": f"no fold in common with the BiLSTM CRNN (folds {done} vs {base})"}
    cer = [fb["test/cer"] for _, fb in pairs]
    base_cer = statistics.fmean(fa["test/cer"] for fa, _ in pairs)
    return {"folds": [fa["fold"] for fa, _ in pairs], "cer": {**fold_stats(cer), "per_fold": dict(zip(
        (fa["fold"] for fa, _ in pairs), cer))}, "baseline_cer": base_cer, "cer_gap": statistics.fmean(cer) - base_cer}


def analyse(perf: Mapping[str, Any], dirs: Mapping[Config, Path]) -> dict[str, Any]:
    """Every configuration's figures, the Pareto front over the measured ones, the goal and the verdict."""
    speeds, run_overrides, skipped = speed_rows(perf)
    loaded = {c: load_folds(d) for c, d in dirs.items()}
    base_folds = loaded.get(BASELINE, ([], []))[0]
    base_speed = speeds.get(BASELINE)
    rows: dict[str, dict[str, Any]] = {}
    for config in sorted(set(speeds) | set(dirs)):
        folds, sources = loaded.get(config, ([], []))
        row: dict[str, Any] = {"encoder": config.encoder, "sequence": config.sequence,
                               "cv_dir": shown_path(dirs[config]) if config in dirs else None,
                               "cv_sources": [shown_path(s) for s in sources],
                               "folds_done": [f["fold"] for f in folds]}
        extra = sorted({" ".join(f["overrides"]) for f in folds} - {""})
        row["cv_overrides"] = extra
        missing = [side for side, ok in (("speed", config in speeds), ("CV", bool(folds))) if not ok]
        if config in speeds:
            s = speeds[config]
            row.update(infer_img_s_b64=s["infer_img_s_b64"], train_img_s=s["train_img_s"], params=s.get("params"))
            if base_speed:
                row.update(infer_ratio=s["infer_img_s_b64"] / base_speed["infer_img_s_b64"],
                           train_ratio=s["train_img_s"] / base_speed["train_img_s"])
        if folds and base_folds:
            row.update(compare(folds, base_folds))
        elif folds:  # no baseline folds: its own folds, nothing to pair with
            cer = [f["test/cer"] for f in folds]
            row.update(folds=row["folds_done"], cer={**fold_stats(cer), "per_fold": dict(zip(row["folds_done"], cer))})
        reasons = ["not measured yet (" + ", ".join(missing) + ")"] if missing else []
        row["missing"] = "; ".join(reasons + ([row["missing"]] if row.get("missing") else [])) or None
        rows[config.name] = row
    plotted = {n: r for n, r in rows.items() if not r["missing"]}
    front = pareto_front({n: (r["infer_img_s_b64"], r["cer"]["mean"]) for n, r in plotted.items()})
    judged = BASELINE.name in plotted and base_speed is not None and bool(base_folds)
    for name, r in rows.items():
        r["on_front"] = name in front
        r["meets_goal"] = bool(judged and name in plotted and r["cer_gap"] <= 0 and r["infer_ratio"] >= GOAL_INFER
                               and r["train_ratio"] >= GOAL_TRAIN)
    result = {
        "baseline": BASELINE.name, "goal": {"cer": "<= baseline over common folds", "infer_ratio": GOAL_INFER,
                                            "train_ratio": GOAL_TRAIN},
        "speed_run": {"device": SPEED_RUN[0], "precision": SPEED_RUN[1], "quick": perf.get("quick"),
                      "machine": perf.get("machine", {}), "run_overrides": run_overrides, "skipped_rows": skipped},
        "configs": rows, "front": front, "meets_goal": [n for n, r in rows.items() if r["meets_goal"]],
    }
    result["verdict"] = verdict(result)
    return result


# ---------------------------------------------------------------------------------------------- the sentence
def _figures(name: str, r: Mapping[str, Any]) -> str:
    return (f"{name} (CER {100 * r['cer']['mean']:.2f} % vs {100 * r['baseline_cer']:.2f} % over folds "
            f"{', '.join(map(str, r['folds']))}, inference x{r['infer_ratio']:.2f}, training x{r['train_ratio']:.2f})")


def verdict(result: Mapping[str, Any]) -> str:
    """One plain sentence: which configurations meet the goal, or why none does, in numbers."""
    rows, base = result["configs"], BASELINE.name
    if base not in rows or rows[base]["missing"]:
        why = rows[base]["missing"] if base in rows else "not measured yet (speed, CV)"
        return f"The goal cannot be judged yet: the BiLSTM CRNN ({base}) is {why}."
    if result["meets_goal"]:
        names = result["meets_goal"]
        verb = "meets" if len(names) == 1 else "meet"
        return f"{' and '.join(_figures(n, rows[n]) for n in names)} {verb} the goal."
    others = {n: r for n, r in rows.items() if n != base and not r["missing"]}
    if not others:
        return "None does: no other configuration is measured on both sides yet."
    equal = {n: r for n, r in others.items() if r["cer_gap"] <= 0}
    if equal:
        n = max(equal, key=lambda k: equal[k]["infer_ratio"])
        first = f"the fastest at the BiLSTM CRNN's CER or below is {_figures(n, equal[n])}"
    else:
        n = min(others, key=lambda k: others[k]["cer_gap"])
        first = (f"no configuration reaches the BiLSTM CRNN's CER (the closest, {n}, is "
                 f"{100 * others[n]['cer_gap']:+.2f} points)")
    fast = {n: r for n, r in others.items() if r["infer_ratio"] >= GOAL_INFER}
    if fast:
        n = min(fast, key=lambda k: fast[k]["cer_gap"])
        second = (f"the most accurate at {GOAL_INFER:g}x inference or more is {_figures(n, fast[n])}, "
                  f"{100 * fast[n]['cer_gap']:+.2f} points of CER against the BiLSTM CRNN")
    else:
        n = max(others, key=lambda k: others[k]["infer_ratio"])
        second = f"none reaches {GOAL_INFER:g}x inference (the fastest, {n}, is x{others[n]['infer_ratio']:.2f})"
    return f"None does: {first}; {second} (goal: x{GOAL_INFER:g} inference and x{GOAL_TRAIN:g} training)."


# ---------------------------------------------------------------------------------------------- driver
def write(result: dict[str, Any], out: Path) -> None:
    """`<out>/pareto.png`, `<out>/pareto.json`, and the `pareto` block of `<out>/performance.md`."""
    out.mkdir(parents=True, exist_ok=True)
    plot(result, out / "pareto.png")
    (out / "pareto.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md = out / "performance.md"
    old = md.read_text(encoding="utf-8") if md.is_file() else ""
    md.write_text(doc_block.splice(section(result, "pareto.png"), old, NAME, WRITER), encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.pareto", description=__doc__.splitlines()[0])
    p.add_argument("--cv-root", type=Path, default=None, help="folder of the htr_lit.cv folders (default outputs/cv)")
    p.add_argument("--perf", type=Path, default=None, help="the bench's json (default docs/performance.json)")
    p.add_argument("--out", type=Path, default=None, help="folder for pareto.{png,json} and performance.md "
                   "(default docs)")
    p.add_argument("--map", action="append", default=[], metavar="ENCODER+SEQUENCE=CVDIR",
                   help="add or replace a configuration's cv folder (relative: under --cv-root), repeatable; "
                   "defaults: " + ", ".join(f"{k}={v}" for k, v in DEFAULT_MAP.items()))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = project_root()
    perf_path = args.perf or root / "docs" / "performance.json"
    try:
        dirs = cv_dirs(args.cv_root or root / "outputs" / "cv", args.map)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    result = analyse(_read_perf(perf_path), dirs)
    result["perf_file"] = shown_path(perf_path)
    out = args.out or root / "docs"
    write(result, out)
    print(f"written {out / 'pareto.png'}, pareto.json and the pareto block of performance.md\n{result['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
