"""What predict prints for one image: TSV lines (`path<TAB>text`, or one line a hypothesis with its score) or a
JSON line, from the decoder's hypotheses."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from htr_lit.decoding.base import Hypothesis


def _score(h: Hypothesis) -> float | None:
    """Rounded log-score; None for -inf (no hypothesis fits), which JSON cannot hold."""
    return round(h.score, 4) if math.isfinite(h.score) else None


def tsv_field(value: object) -> str:
    """A TSV field; one holding a tab, a line break or a double quote is quoted as CSV quotes it
    ("a<TAB>b.png" -> `"a<TAB>b.png"`, inner quotes doubled), so such a file name keeps its row whole and
    Python's csv, pandas or a spreadsheet read it back (`csv.reader(f, delimiter="\t")`)."""
    text = str(value)
    if any(c in text for c in '\t\n\r"'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _confidence(h: Hypothesis) -> float:
    return round(math.exp(h.score), 4)


def format_hypotheses(path: Path, hyps: list[Hypothesis], fmt: str, top_n: int,
                      lines: Sequence[tuple[int, int]] = (), line_hyps: Sequence[list[Hypothesis]] = (),
                      review_below: float | None = None, confidence: float | None = None,
                      line_confidences: Sequence[float] = ()) -> list[str]:
    """Output lines for one image: `path<TAB>text` (top_n=1), else one `path<TAB>text<TAB>score` per
    hypothesis (fields quoted by `tsv_field`); jsonl: one object with the best text and confidence
    (+ `hypotheses` when top_n > 1). An image read as several text lines (`lines`, their row ranges, and each
    line's hypotheses) has their texts one per line; jsonl adds `lines`: each line's rows, text and confidence.
    With `review_below`, a word whose confidence is below it is marked for a person to check: jsonl `"review":
    true/false`, TSV a third column `check` or `ok` (top_n=1). `confidence` (and `line_confidences`): the
    checkpoint's calibrated probabilities that the reading is right, used instead of exp(log-score)."""
    best = hyps[0]
    conf = round(confidence, 4) if confidence is not None else _confidence(best)
    if fmt == "jsonl":
        record: dict[str, object] = {"path": str(path), "text": best.text, "confidence": conf}
        if top_n > 1:
            record["hypotheses"] = [{"text": h.text, "score": _score(h)} for h in hyps[:top_n]]
        if review_below is not None:
            record["review"] = conf < review_below
        if lines:
            line_conf = list(line_confidences) or [_confidence(h[0]) for h in line_hyps]
            record["lines"] = [{"top": top, "bottom": bottom, "text": h[0].text, "confidence": round(c, 4)}
                               for (top, bottom), h, c in zip(lines, line_hyps, line_conf)]
        return [json.dumps(record, ensure_ascii=False)]
    if top_n > 1:
        return [f"{tsv_field(path)}\t{tsv_field(h.text)}\t{h.score:.4f}" for h in hyps[:top_n]]
    if review_below is not None:
        verdict = "check" if conf < review_below else "ok"
        return [f"{tsv_field(path)}\t{tsv_field(best.text)}\t{verdict}"]
    return [f"{tsv_field(path)}\t{tsv_field(best.text)}"]
