"""Put a generated report into docs/results.md between its block's markers, keeping the rest.

    python -m htr_lit.results.splice_results docs/ablation.md docs/results.md [BLOCK]   # BLOCK: ablation (default)
"""

from __future__ import annotations

import sys
from pathlib import Path

from htr_lit.results import doc_block

WRITER = "make reproduce"  # the command named in the blocks' begin markers


def markers(block: str = "ablation") -> tuple[str, str]:
    """The comment lines that enclose a generated block (`ablation`, `ablation_long`) in results.md."""
    return doc_block.markers(block, WRITER)


def demote(markdown: str) -> str:
    """Every heading one level down (`# T` -> `## T`), so a stand-alone report nests under results.md's."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def splice(report: str, results: str, block: str = "ablation") -> str:
    """`results` with block `block` replaced by `report`, its headings one level down (appended if missing)."""
    return doc_block.splice(demote(report), results, block, WRITER)


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m htr_lit.results.splice_results",
                                 description="Replace the named block of RESULTS (markdown) with REPORT's text.")
    ap.add_argument("report", type=Path, help="a generated report (markdown)")
    ap.add_argument("results", type=Path, help="the document to update, e.g. docs/results.md")
    ap.add_argument("block", nargs="?", default="ablation", help="the block's name (default: %(default)s)")
    args = ap.parse_args(argv)
    report, results, block = args.report, args.results, args.block
    old = results.read_text(encoding="utf-8") if results.is_file() else ""
    text = splice(report.read_text(encoding="utf-8"), old, block)
    results.write_text(text, encoding="utf-8")
    print(f"updated {results} ({block} block) with {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
