"""The figure of htr_lit.cv.adapt_curve: CER % on a writer's other words against the number of the writer's words
the model was adapted on (k = 0: the model as it is), one thin line per writer and the pooled CER as a thick one."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def series(record: Mapping[str, Any]) -> tuple[dict[str, list[tuple[int, float]]], list[tuple[int, float]]]:
    """(writer -> [(k, CER %)], pooled [(k, CER %)]), k = 0 being the CER before adaptation."""
    writers: dict[str, list[tuple[int, float]]] = {}
    for r in sorted(record["rows"], key=lambda r: (r["writer"], r["k"])):
        line = writers.setdefault(r["writer"], [(0, 100 * r["before"]["cer"])])
        line.append((r["k"], 100 * r["after"]["cer"]))
    pooled = record.get("pooled") or []
    total = [(0, 100 * pooled[0]["cer_before"])] if pooled else []
    return writers, total + [(p["k"], 100 * p["cer_after"]) for p in pooled]


def plot(records: Sequence[Mapping[str, Any]], path: Path, title: str) -> None:
    """Draw the records' writers (one colour per record) into `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for i, record in enumerate(records):
        colour = f"C{i}"
        writers, pooled = series(record)
        for line in writers.values():
            ax.plot(*zip(*line), color=colour, alpha=0.3, lw=1)
        if pooled:
            label = f"fold {record['settings']['fold']} {record['settings']['writers']} writers, pooled"
            ax.plot(*zip(*pooled), color=colour, lw=2.5, marker="o", label=label)
    ax.set_xlabel("words of the writer adapted on (k; 0: not adapted)")
    ax.set_ylabel("CER % on the writer's other words (greedy)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """python -m htr_lit.cv.adapt_plot OUT.png RECORD.json [RECORD.json ...]"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m htr_lit.cv.adapt_plot OUT.png RECORD.json [RECORD.json ...]", file=sys.stderr)
        return 2
    records = [json.loads(Path(p).read_text()) for p in args[1:]]
    plot(records, Path(args[0]), "CER against the writer's own words adapted on (writers never trained on)")
    print(f"written {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
