"""Put a generated report into docs/results.md between the ablation markers, keeping the rest.

    python sweeps/splice_results.py docs/ablation.md docs/results.md
"""

from __future__ import annotations

import sys
from pathlib import Path

BEGIN, END = "<!-- ablation:begin (written by make reproduce) -->", "<!-- ablation:end -->"


def splice(report: str, results: str) -> str:
    """`results` with the text between the markers replaced by `report` (markers appended if missing)."""
    block = f"{BEGIN}\n{report.strip()}\n{END}"
    if BEGIN in results and END in results:
        head, rest = results.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return results.rstrip() + ("\n\n" if results.strip() else "") + block + "\n"


def main(argv: list[str]) -> int:
    report, results = Path(argv[0]), Path(argv[1])
    old = results.read_text(encoding="utf-8") if results.is_file() else ""
    text = splice(report.read_text(encoding="utf-8"), old)
    results.write_text(text, encoding="utf-8")
    print(f"updated {results} with {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
