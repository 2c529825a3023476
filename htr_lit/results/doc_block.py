"""Generated blocks of a markdown document, each between two marker comments:

    <!-- NAME:begin (written by COMMAND) -->
    ...
    <!-- NAME:end -->

Several generators write their own block of one document (docs/performance.md, docs/results.md): re-running one
replaces its block and keeps the rest, and a generator that rewrites the whole document carries the other blocks
over (`kept`). A block is found by its name alone, so the command named in its begin marker may change.
"""

from __future__ import annotations


def markers(name: str, writer: str) -> tuple[str, str]:
    """The begin and end comment lines of block `name`, the begin one naming the command that writes it."""
    return f"<!-- {name}:begin (written by {writer}) -->", f"<!-- {name}:end -->"


def _span(document: str, name: str) -> tuple[int, int] | None:
    """Where block `name` lies in `document`, markers included (None when it has none)."""
    start = document.find(f"<!-- {name}:begin")
    end_marker = f"<!-- {name}:end -->"
    stop = document.find(end_marker, start) if start >= 0 else -1
    return None if stop < 0 else (start, stop + len(end_marker))


def splice(section: str, document: str, name: str, writer: str) -> str:
    """`document` with block `name` replaced by `section` (appended at the end when it has none)."""
    begin, end = markers(name, writer)
    block = f"{begin}\n{section.strip()}\n{end}"
    span = _span(document, name)
    if span:
        return document[: span[0]] + block + document[span[1]:]
    return document.rstrip() + ("\n\n" if document.strip() else "") + block + "\n"


def kept(document: str, *names: str) -> str:
    """The blocks `names` of `document`, markers included, each on lines of its own ("" for a missing one):
    what a generator that rewrites the document appends to carry them over."""
    spans = [s for s in (_span(document, n) for n in names) if s]
    return "".join("\n" + document[a:b] + "\n" for a, b in spans)
