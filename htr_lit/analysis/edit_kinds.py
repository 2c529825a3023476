"""What kind of error each character edit is, and how much of the CER each kind holds: the question a lever for a
better recognizer starts from ("would reading the umlauts right get us there?").

Every non-matching column of the alignment gets one kind (a cheapest edit path, htr_lit.analysis.error_analysis.align,
that among equally cheap paths pairs letters of the same base, so `Muler` for `Müller` is `ü`->`u` and one `l`
missing, not `ü` missing and `l`->`u`):

- `separator`: either side is not a letter or digit (space, hyphen, dot, bracket...);
- `case`: the same letter in the other case (`a` for `A`);
- `diacritic`: the same base letter with other marks (`a` for `ä`, `U` for `ü`, `s` for `ß`);
- `letter`: another letter or digit in its place;
- `missing`: a truth letter the reading lacks;
- `extra`: a letter the reading adds.

`ß` read as `ss` is a `diacritic` substitution and an `extra` letter.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

from htr_lit.analysis.error_analysis import DEL, INS, MATCH, SUB, EditOp, align

KINDS = ("diacritic", "case", "letter", "missing", "extra", "separator")


def base_letter(char: str) -> str:
    """`char` without its combining marks, lower case (`Ä` -> `a`, `ß` -> `s`)."""
    if char == "ß":
        return "s"
    return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)).lower()


def same_base(a: str, b: str) -> bool:
    return base_letter(a) == base_letter(b)


def edit_kind(op: EditOp) -> str:
    """The kind (one of KINDS) of one edit of an alignment."""
    if op.kind == MATCH:
        raise ValueError("a matching column is not an edit")
    if any(c and not c.isalnum() for c in (op.truth, op.pred)):
        return "separator"
    if op.kind == SUB:
        if op.truth.lower() == op.pred.lower():
            return "case"
        return "diacritic" if base_letter(op.truth) == base_letter(op.pred) else "letter"
    return {DEL: "missing", INS: "extra"}[op.kind]


def word_edits(truth: str, pred: str) -> list[tuple[str, EditOp]]:
    """(kind, edit) of every edit that turns `truth` into `pred`."""
    return [(edit_kind(op), op) for op in align(truth, pred, alike=same_base) if op.kind != MATCH]


def breakdown(pairs: Iterable[tuple[str, str]], examples: int = 6) -> dict[str, Any]:
    """Error kinds of (truth, prediction) pairs: words, words right, label characters, edits and CER; per kind its
    edits, share of the edits, the CER left if that kind were always read right (`cer_without`), the wrong words whose
    every edit is of that kind (`words_only_this`: the words a perfect fix of it makes right) and its most common
    (truth, predicted) characters ("" for the side a missing or extra letter lacks)."""
    words = right = chars = 0
    edits: Counter[str] = Counter()
    only: Counter[str] = Counter()
    pairs_of: dict[str, Counter[tuple[str, str]]] = {k: Counter() for k in KINDS}
    for truth, pred in pairs:
        words += 1
        chars += len(truth)
        found = word_edits(truth, pred)
        right += not found
        kinds = {k for k, _ in found}
        if len(kinds) == 1:
            only[next(iter(kinds))] += 1
        for kind, op in found:
            edits[kind] += 1
            pairs_of[kind][(op.truth, op.pred)] += 1
    total = sum(edits.values())
    out: dict[str, Any] = {"words": words, "words_right": right, "chars": chars, "edits": total,
                           "cer": total / chars if chars else 0.0, "kinds": {}}
    for kind in KINDS:
        out["kinds"][kind] = {
            "edits": edits[kind], "share": edits[kind] / total if total else 0.0,
            "cer_without": (total - edits[kind]) / chars if chars else 0.0, "words_only_this": only[kind],
            "most_common": [[t, p, n] for (t, p), n in pairs_of[kind].most_common(examples)]}
    return out


def shown(char: str) -> str:
    """A character as the tables show it: `∅` for the side a missing or extra letter lacks, `␣` for a space."""
    return {"": "∅", " ": "␣"}.get(char, char)


def table(part: dict[str, Any]) -> str:
    """A markdown table of one breakdown: a row per kind."""
    lines = ["| kind | edits | share of edits | CER % without it | wrong words only of this kind | most common |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for kind in KINDS:
        k = part["kinds"][kind]
        common = ", ".join(f"{shown(t)}→{shown(p)} ({n})" for t, p, n in k["most_common"][:4])
        lines.append(f"| {kind} | {k['edits']} | {100 * k['share']:.1f} % | {100 * k['cer_without']:.2f} | "
                     f"{k['words_only_this']} | {common} |")
    lines.append(f"| all | {part['edits']} | | CER {100 * part['cer']:.2f} % | "
                 f"{part['words'] - part['words_right']} of {part['words']} words wrong | |")
    return "\n".join(lines)
