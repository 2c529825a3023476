"""Tables of the trust records, as docs/trust.md quotes them: word-confidence calibrations (htr_lit.cv.calibrate)
and planted label audits (htr_lit.cv.audit_planted).

    python -m htr_lit.cv.trust_report docs/confidence/val/*.json    # one row per calibration record
    python -m htr_lit.cv.trust_report docs/audit/planted_fold2*.json   # one row per planted audit
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _top(figures: Mapping[str, Any], share: str) -> str:
    """Accuracy of the most confident `share` % (and, when the record has it, the most a perfect ranking reaches)."""
    best = figures.get(f"best_accuracy_top{share}")
    return _pct(figures[f"accuracy_top{share}"]) + ("" if best is None else f" (of {_pct(best)})")


def calibration_row(name: str, record: Mapping[str, Any]) -> str:
    """Readings (plain, or fused over width stretches: tta), features, words and the share read right, then the
    calibrated AUROC / ECE / accuracy of the most confident 50 and 80 % (of the most a perfect ranking reaches), and
    the raw AUROC (pooled)."""
    raw_key, cal_key = (("cross_fitted_raw", "cross_fitted_calibrated") if "cross_fitted_calibrated" in record
                        else ("test_raw", "test_calibrated"))
    raw, cal = record[raw_key]["pooled"], record[cal_key]["pooled"]
    auroc = "n/a" if cal["auroc"] is None else f"{cal['auroc']:.3f}"
    readings = "tta" if record.get("tta") else "plain"
    right = _pct(cal["accuracy"]) if "accuracy" in cal else "n/a"
    return (f"| {name} | {readings} | {', '.join(record['calibration']['features'])} | {cal['words']} | {right} | "
            f"{auroc} | "
            f"{cal['ece']:.3f} | {_top(cal, '50')} | {_top(cal, '80')} | "
            f"{raw['auroc']:.3f} |")


def calibration_table(records: Mapping[str, Mapping[str, Any]]) -> str:
    head = ("| record | readings | features | words | right | AUROC | ECE | most confident 50 % right | 80 % right | "
            "raw AUROC |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    return "\n".join([head, *(calibration_row(n, r) for n, r in records.items())])


def audit_row(name: str, record: Mapping[str, Any]) -> str:
    """Rank, threshold (chosen on the validation writers), then per split the share flagged and recall per kind."""
    cells = []
    for split in ("val", "test"):
        part = record[split]
        kinds = ", ".join(f"{k} {_pct(v)}" for k, v in part["recall_by_kind"].items())
        cells.append(f"{_pct(part['flagged'])} | {_pct(part['recall'])} ({kinds})")
    return (f"| {name} | {record.get('rank', 'score')} | {record['val']['threshold']:.3f} | "
            + " | ".join(cells) + " |")


def audit_table(records: Mapping[str, Mapping[str, Any]]) -> str:
    head = ("| record | rank | threshold (val) | val flagged | val recall | test flagged | test recall |\n"
            "| --- | --- | ---: | ---: | --- | ---: | --- |")
    return "\n".join([head, *(audit_row(n, r) for n, r in records.items())])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.trust_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("records", nargs="+", type=Path, help="calibration or planted-audit records (JSON)")
    args = p.parse_args(argv)
    loaded: dict[str, dict[str, Any]] = {path.stem: json.loads(path.read_text(encoding="utf-8"))
                                         for path in args.records}
    calibrations = {n: r for n, r in loaded.items() if "calibration" in r}
    audits = {n: r for n, r in loaded.items() if "calibration" not in r and "val" in r and "test" in r}
    other = sorted(set(loaded) - set(calibrations) - set(audits))
    if other:
        raise SystemExit(f"error: neither a calibration nor a planted-audit record: {', '.join(other)}")
    print("\n\n".join(t for t in (calibration_table(calibrations) if calibrations else "",
                                  audit_table(audits) if audits else "") if t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
