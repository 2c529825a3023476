"""One audit threshold for every fold: chosen on the validation writers of several folds pooled, then the test
writers of every fold scored once with it.

    python -m htr_lit.cv.audit_pooled docs/audit/planted_fold{0,1,2,3,4}_nats_lm.json [--max-flagged 0.13]
        [--also 11.8] --out docs/audit/planted_pooled_nats_lm.json

Reads `python -m htr_lit.cv.audit_planted` records (same rank, each holding every row's rank value and planted
kind: `values`). Each fold's rows were judged by that fold's model, which never trained on them. The threshold is
the lowest that flags at most `--max-flagged` of all the validation rows pooled (planted ones included, as in
audit_planted); the record gives, for it and for each `--also` threshold (e.g. `htr-data audit`'s default), the
share of rows flagged and of planted rows found (all, per kind), per fold and pooled over the test writers.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.cv.audit_planted import KINDS, threshold_for


def _value(v: float | None) -> float:
    return math.inf if v is None else float(v)  # None: a label no alignment explains, the most suspicious


def score(rows: Sequence[Sequence[Any]], threshold: float) -> dict[str, Any]:
    """Rows flagged and planted rows found (all and per kind) at `threshold`; rows are [value, kind or None]."""
    flagged = [_value(v) >= threshold for v, _ in rows]
    planted = [k for _, k in rows if k]
    found = [k for (_, k), f in zip(rows, flagged) if k and f]
    return {"rows": len(rows), "flagged": round(sum(flagged) / max(1, len(rows)), 5),
            "planted": len(planted), "found": round(len(found) / max(1, len(planted)), 5),
            "found_by_kind": {kind: round(found.count(kind) / max(1, planted.count(kind)), 5) for kind in KINDS}}


def pooled(records: Sequence[dict[str, Any]], max_flagged: float, also: Sequence[float] = ()) -> dict[str, Any]:
    """The threshold chosen on every record's validation rows pooled, and the test rows scored with it (and with
    each of `also`), per fold and pooled."""
    ranks = {r["rank"] for r in records}
    if len(ranks) != 1:
        raise ValueError(f"the records rank rows differently ({', '.join(sorted(ranks))}): pool one rank")
    missing = [str(r.get("fold")) for r in records if "values" not in r["val"] or "values" not in r["test"]]
    if missing:
        raise ValueError(f"fold(s) {', '.join(missing)}: records without per-row values; rerun audit_planted")
    val_rows = [row for r in records for row in r["val"]["values"]]
    chosen = threshold_for([_value(v) for v, _ in val_rows], max_flagged)
    out: dict[str, Any] = {"rank": ranks.pop(), "max_flagged": max_flagged, "folds": [r["fold"] for r in records],
                           "val": {"writers": sum(len(r["val"]["writers"]) for r in records), "threshold": chosen,
                                   **score(val_rows, chosen)},
                           "thresholds": []}
    test_rows = [row for r in records for row in r["test"]["values"]]
    for name, t in [("chosen on the pooled validation writers", chosen), *[(f"given {a:g}", a) for a in also]]:
        out["thresholds"].append({"threshold": t, "how": name, "test": score(test_rows, t),
                                  "test_by_fold": {str(r["fold"]): score(r["test"]["values"], t) for r in records},
                                  "val": score(val_rows, t)})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.audit_pooled", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("records", nargs="+", type=Path, help="audit_planted records, one per fold, of one rank")
    p.add_argument("--max-flagged", type=float, default=0.13, help="the share of validation rows it may flag")
    p.add_argument("--also", type=float, nargs="*", default=[], help="thresholds scored beside the chosen one")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    records = []
    for f in args.records:
        try:
            records.append(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise SystemExit(f"error: {f}: not an audit_planted record ({e})") from None
    try:
        result = pooled(records, args.max_flagged, args.also)
    except (ValueError, KeyError) as e:
        raise SystemExit(f"error: {e}") from None
    record = {"command": shlex.join(["python", "-m", "htr_lit.cv.audit_pooled", *argv]),
              "machine": f"{platform.machine()}, {platform.processor() or platform.system()}", **result}
    for t in result["thresholds"]:
        test = t["test"]
        print(f"threshold {t['threshold']:.3f} ({t['how']}): test {100 * test['flagged']:.1f} % of "
              f"{test['rows']} rows flagged, {100 * test['found']:.1f} % of {test['planted']} planted found ("
              + ", ".join(f"{k} {100 * v:.0f} %" for k, v in test["found_by_kind"].items()) + "); per fold: "
              + ", ".join(f"{f} {100 * s['found']:.0f} % at {100 * s['flagged']:.1f} %"
                          for f, s in t["test_by_fold"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
