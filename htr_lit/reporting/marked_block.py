"""A generated section of a markdown document, kept between two marker comments.

Several benchmarks write their own section of docs/performance.md: re-running one replaces its block and
keeps the rest, and a generator that rewrites the whole document carries the others' blocks over.
"""

from __future__ import annotations


def splice(section: str, document: str, begin: str, end: str) -> str:
    """`document` with its begin..end block replaced by `section` (appended at the end when missing)."""
    block = f"{begin}\n{section.strip()}\n{end}"
    if begin in document and end in document:
        head, rest = document.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    return document.rstrip() + ("\n\n" if document.strip() else "") + block + "\n"


def kept(document: str, begin: str, end: str) -> str:
    """The begin..end block of `document` with its markers ("" when there is none)."""
    if begin not in document or end not in document:
        return ""
    return "\n" + begin + document.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
