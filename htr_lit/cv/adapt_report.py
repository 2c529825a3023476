"""Tables of htr_lit.cv.adapt_curve records, as docs/adaptation.md quotes them.

    python -m htr_lit.cv.adapt_report docs/adaptation/val/*.json          # recipe choice: one row per record
    python -m htr_lit.cv.adapt_report --per-writer docs/adaptation/fold0_test.json   # CER by k and writer
    python -m htr_lit.cv.adapt_report docs/adaptation/fold*_test.json --pooled-out docs/adaptation/pooled.json
        # the writers of every record pooled per k (errors summed), as a record of its own
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def recipe_row(name: str, record: Mapping[str, Any]) -> str:
    """One markdown row per record: its overrides, pooled CER before -> after, relative reduction, writers worse,
    median seconds (for every k it holds)."""
    noise = record["settings"].get("noise") or 0
    sets = " ".join([*(f"`{s}`" for s in record["settings"]["set"]), *([f"`--noise {noise:g}`"] if noise else [])])
    sets = sets or "(defaults)"
    cells = []
    for p in record.get("pooled", []):
        cells.append(f"k={p['k']}: {100 * p['cer_before']:.2f} -> {100 * p['cer_after']:.2f} | "
                     f"{100 * (p['relative_reduction'] or 0):.1f} % | {p['writers_worse']} of {p['writers']} | "
                     f"{p['median_time_s']:.0f}")
    return "\n".join(f"| {name} | {sets} | {c} |" for c in cells)


def recipe_table(records: Mapping[str, Mapping[str, Any]]) -> str:
    head = ("| record | overrides | CER % before -> after | relative reduction | writers worse | median s |\n"
            "| --- | --- | --- | ---: | ---: | ---: |")
    ranked = sorted(records.items(), key=lambda kv: min(p["cer_after"] for p in kv[1]["pooled"]))
    return "\n".join([head, *(recipe_row(name, r) for name, r in ranked)])


def per_writer_table(record: Mapping[str, Any]) -> str:
    """Writers as rows; the CER before and after adapting on each k as columns; pooled last."""
    ks = sorted({r["k"] for r in record["rows"]})
    head = "| writer | words scored | CER % not adapted | " + " | ".join(f"k={k}" for k in ks) + " |"
    lines = [head, "| --- " * (3 + len(ks)) + "|"]
    for writer in sorted({r["writer"] for r in record["rows"]}, key=lambda w: (len(w), w)):
        mine = {r["k"]: r for r in record["rows"] if r["writer"] == writer}
        first = next(iter(mine.values()))
        cells = [f"{100 * mine[k]['after']['cer']:.2f}" if k in mine else "" for k in ks]
        lines.append(f"| {writer} | {first['scored']} | {100 * first['before']['cer']:.2f} | " + " | ".join(cells)
                     + " |")
    pooled = {p["k"]: p for p in record.get("pooled", [])}
    if pooled:
        before = next(iter(pooled.values()))["cer_before"]
        cells = [f"**{100 * pooled[k]['cer_after']:.2f}** ({-100 * (pooled[k]['relative_reduction'] or 0):+.1f} %)"
                 if k in pooled else "" for k in ks]
        scored = sum({r["writer"]: r["scored"] for r in record["rows"]}.values())
        lines.append(f"| pooled | {scored} | **{100 * before:.2f}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pooled_record(records: Mapping[str, Mapping[str, Any]], command: str) -> dict[str, Any]:
    """The rows of every record (writers of different folds) pooled per k as adapt_curve pools one record's."""
    from htr_lit.cv.adapt_curve import pooled

    rows = [r for record in records.values() for r in record["rows"]]
    ks = sorted({r["k"] for r in rows})
    return {"command": command, "records": list(records), "writers": len({(n, r["writer"]) for n, rec in
                                                                            records.items() for r in rec["rows"]}),
            "pooled": [pooled(rows, k) for k in ks]}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.adapt_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("records", nargs="+", type=Path)
    p.add_argument("--per-writer", action="store_true", help="one table per record: writers x k")
    p.add_argument("--pooled-out", type=Path, default=None, metavar="JSON",
                   help="also write the writers of all the records pooled per k (a record of its own)")
    args = p.parse_args(argv)
    records = {path.stem: json.loads(path.read_text()) for path in args.records}
    if args.pooled_out is not None:
        import shlex

        argv_shown = list(sys.argv[1:] if argv is None else argv)
        record = pooled_record(records, shlex.join(["python", "-m", "htr_lit.cv.adapt_report", *argv_shown]))
        args.pooled_out.parent.mkdir(parents=True, exist_ok=True)
        args.pooled_out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        records = {**records, args.pooled_out.stem: {"settings": {"set": []}, "rows": [], **record}}
    if args.per_writer:
        for name, record in records.items():
            print(f"{name}:\n{per_writer_table(record)}\n")
    else:
        print(recipe_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
