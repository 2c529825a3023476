"""Error analysis of transcriptions, as pure functions: character alignment (Levenshtein with backtrace),
the most common confusions, CER per writer, the worst words, and where each frame's best-path character
sits in the image. The error-analysis page (`htr_lit.inspect`) is drawn from these."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

# Alignment operations: the truth character kept, replaced, missing from the prediction, or added by it.
MATCH, SUB, DEL, INS = "=", "S", "D", "I"


@dataclass(frozen=True)
class EditOp:
    """One aligned column: `truth` and `pred` characters ("" for the side that has none)."""

    kind: str  # MATCH | SUB | DEL (truth char not predicted) | INS (predicted char not in the truth)
    truth: str
    pred: str


@dataclass
class WordResult:
    """One scored test image: what the page needs to show and count it."""

    id: str  # the row (labels.csv:12) or the image path
    truth: str
    pred: str
    writer: str | None
    image: np.ndarray  # uint8 (H, W) as the model saw it (the checkpoint's preprocessing)
    frames: list[int]  # best-path class index per valid frame (0 = blank)
    image_file: str = ""  # the image's path, when `id` names a CSV row
    confidence: float | None = None  # the word confidence predict would print (calibrated when the checkpoint can)
    audit: Any = None  # the label audit's Verdict on this row (htr_lit.analysis.label_audit), when judged

    @cached_property
    def errors(self) -> int:
        return edit_distance(self.truth, self.pred)

    @property
    def cer(self) -> float:
        """Edits per truth character (an empty truth counts as one character, so the ratio stays finite)."""
        return self.errors / max(len(self.truth), 1)


def align(truth: str, pred: str, alike: Callable[[str, str], bool] | None = None) -> list[EditOp]:
    """The cheapest edit path from `truth` to `pred` (unit costs), one op per column, left to right. Among equally
    cheap paths, the one with the most substitutions of characters `alike` calls alike (none without it); then ties
    prefer a match/substitution, then a deletion, so the path is deterministic."""
    n, m = len(truth), len(pred)
    edits = np.zeros((n + 1, m + 1), dtype=np.int64)  # (n+1, m+1) edit distance of the prefixes
    edits[:, 0], edits[0, :] = np.arange(n + 1), np.arange(m + 1)
    unlike = edits.copy()  # (n+1, m+1) the edits of that path that are not a substitution of alike characters

    def diag(i: int, j: int) -> tuple[int, int]:
        a, b = truth[i - 1], pred[j - 1]
        if a == b:
            return int(edits[i - 1, j - 1]), int(unlike[i - 1, j - 1])
        return int(edits[i - 1, j - 1]) + 1, int(unlike[i - 1, j - 1]) + (alike is None or not alike(a, b))

    def up(i: int, j: int) -> tuple[int, int]:  # truth[i - 1] deleted
        return int(edits[i - 1, j]) + 1, int(unlike[i - 1, j]) + 1

    def left(i: int, j: int) -> tuple[int, int]:  # pred[j - 1] inserted
        return int(edits[i, j - 1]) + 1, int(unlike[i, j - 1]) + 1

    for i in range(1, n + 1):
        for j in range(1, m + 1):
            edits[i, j], unlike[i, j] = min(diag(i, j), up(i, j), left(i, j))
    ops: list[EditOp] = []
    i, j = n, m
    while i > 0 or j > 0:
        here = (int(edits[i, j]), int(unlike[i, j]))
        if i > 0 and j > 0 and here == diag(i, j):
            ops.append(EditOp(MATCH if truth[i - 1] == pred[j - 1] else SUB, truth[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and (j == 0 or here == up(i, j)):
            ops.append(EditOp(DEL, truth[i - 1], ""))
            i -= 1
        else:
            ops.append(EditOp(INS, "", pred[j - 1]))
            j -= 1
    return ops[::-1]


def edit_distance(truth: str, pred: str) -> int:
    return sum(op.kind != MATCH for op in align(truth, pred))


def confusions(pairs: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(truth char, predicted char) -> count over every error of the (truth, pred) pairs; "" stands for
    the missing side of a deletion (truth, "") or an insertion ("", pred)."""
    counts: Counter[tuple[str, str]] = Counter()
    for truth, pred in pairs:
        counts.update((op.truth, op.pred) for op in align(truth, pred) if op.kind != MATCH)
    return counts


@dataclass(frozen=True)
class WriterScore:
    writer: str
    images: int
    chars: int  # truth characters
    errors: int  # edits (substitutions + deletions + insertions)
    correct: int  # images transcribed exactly

    @property
    def cer(self) -> float:
        return self.errors / max(self.chars, 1)

    @property
    def word_acc(self) -> float:
        return self.correct / max(self.images, 1)


def cer_by_writer(results: Sequence[WordResult]) -> list[WriterScore]:
    """CER (edits / truth characters, as torchmetrics computes it) per writer, worst first; empty when
    no result has a writer id."""
    groups: dict[str, list[WordResult]] = {}
    for r in results:
        if r.writer is not None:
            groups.setdefault(r.writer, []).append(r)
    scores = [WriterScore(w, len(rs), sum(len(r.truth) for r in rs), sum(r.errors for r in rs),
                          sum(r.truth == r.pred for r in rs)) for w, rs in groups.items()]
    return sorted(scores, key=lambda s: (-s.cer, s.writer))


def worst(results: Sequence[WordResult], n: int) -> list[WordResult]:
    """The `n` wrong words with the highest CER (more edits first among equals, then input order)."""
    wrong = [(i, r) for i, r in enumerate(results) if r.truth != r.pred]
    wrong.sort(key=lambda ir: (-ir[1].cer, -ir[1].errors, ir[0]))
    return [r for _, r in wrong[:n]]


def frame_columns(num_frames: int, width: int) -> list[float]:
    """The centre column of each frame in an image `width` pixels wide: frame t covers
    [t * width / num_frames, (t + 1) * width / num_frames)."""
    return [(t + 0.5) * width / num_frames for t in range(num_frames)]


def strip_marks(frames: Sequence[int], tokens: Sequence[str], width: int,
                blank: int = 0) -> list[tuple[float, str, bool]]:
    """The best-path strip: (column, character, emitted) for each non-blank frame; `emitted` is False for a
    repeat of the previous frame's class, which CTC merges into the character already emitted."""
    cols = frame_columns(len(frames), width)
    marks = []
    for t, k in enumerate(frames):
        if k != blank:
            marks.append((cols[t], tokens[k], t == 0 or frames[t - 1] != k))
    return marks
