"""The error-analysis functions behind the inspect page, against hand-computed answers."""

from __future__ import annotations

import random

import numpy as np
import pytest
from torchmetrics.functional.text import char_error_rate

from htr_lit.analysis.error_analysis import (
    DEL,
    INS,
    MATCH,
    SUB,
    EditOp,
    WordResult,
    align,
    cer_by_writer,
    confusions,
    edit_distance,
    frame_columns,
    strip_marks,
    worst,
)


def result(truth: str, pred: str, writer: str | None = None, id: str = "") -> WordResult:
    return WordResult(id=id or truth, truth=truth, pred=pred, writer=writer, image=np.zeros((4, 8), np.uint8),
                      frames=[])


def test_align_kitten_sitting() -> None:
    ops = align("kitten", "sitting")
    assert ops == [EditOp(SUB, "k", "s"), EditOp(MATCH, "i", "i"), EditOp(MATCH, "t", "t"), EditOp(MATCH, "t", "t"),
                   EditOp(SUB, "e", "i"), EditOp(MATCH, "n", "n"), EditOp(INS, "", "g")]
    assert edit_distance("kitten", "sitting") == 3


@pytest.mark.parametrize(("truth", "pred", "kinds"), [
    ("Haus", "Hau", [MATCH, MATCH, MATCH, DEL]),
    ("Haus", "Haus", [MATCH] * 4),
    ("", "ab", [INS, INS]),
    ("ab", "", [DEL, DEL]),
    ("ab", "ba", [SUB, SUB]),  # ties prefer substitutions over a deletion + insertion
    ("Straße", "Strase", [MATCH, MATCH, MATCH, MATCH, SUB, MATCH]),
    ("Köln", "Kln", [MATCH, DEL, MATCH, MATCH]),
])
def test_align_kinds(truth: str, pred: str, kinds: list[str]) -> None:
    ops = align(truth, pred)
    assert [o.kind for o in ops] == kinds
    assert "".join(o.truth for o in ops) == truth and "".join(o.pred for o in ops) == pred


def test_edit_distance_gives_torchmetrics_cer() -> None:
    rng = random.Random(0)
    truths = ["".join(rng.choices("abcä ", k=rng.randint(1, 9))) for _ in range(200)]
    preds = ["".join(rng.choices("abcä ", k=rng.randint(0, 9))) for _ in range(200)]
    ours = sum(edit_distance(t, p) for t, p in zip(truths, preds)) / sum(map(len, truths))
    assert ours == pytest.approx(float(char_error_rate(preds, truths)), abs=1e-6)


def test_confusions_count_substitutions_deletions_insertions() -> None:
    counts = confusions([("Haus", "Hans"), ("ab", "a"), ("x", "xy"), ("Haus", "Hans"), ("ok", "ok")])
    assert counts == {("u", "n"): 2, ("b", ""): 1, ("", "y"): 1}


def test_cer_by_writer_worst_first() -> None:
    results = [result("abcd", "abcd", "w1"), result("ab", "a", "w1"), result("abc", "xbc", "w2"),
               result("abc", "abx", "w2"), result("zz", "", None)]
    scores = cer_by_writer(results)
    assert [(s.writer, s.errors, s.chars) for s in scores] == [("w2", 2, 6), ("w1", 1, 6)]  # the None row: no writer
    w1 = next(s for s in scores if s.writer == "w1")
    assert (w1.images, w1.chars, w1.errors, w1.correct) == (2, 6, 1, 1)
    assert w1.cer == pytest.approx(1 / 6) and w1.word_acc == 0.5
    scores = cer_by_writer([result("ab", "", "b"), result("ab", "a", "a"), result("ab", "a", "c")])
    assert [(s.writer, s.cer) for s in scores] == [("b", 1.0), ("a", 0.5), ("c", 0.5)]  # ties by name
    assert cer_by_writer([result("ab", "a")]) == []  # no writer ids: no table


def test_worst_orders_by_cer_then_edits_and_skips_right_words() -> None:
    results = [result("abcd", "abcx", id="1"), result("ab", "", id="2"), result("ok", "ok", id="3"),
               result("abcd", "", id="4"), result("ab", "ax", id="5")]
    assert [r.id for r in worst(results, 10)] == ["4", "2", "5", "1"]
    assert [r.id for r in worst(results, 2)] == ["4", "2"]
    assert worst([result("ok", "ok")], 5) == []


def test_frame_columns_and_strip_marks() -> None:
    assert frame_columns(4, 100) == [12.5, 37.5, 62.5, 87.5]
    tokens = ["", "a", "b", "c"]
    # frames: blank, c, c (merged repeat), blank, c (a new c after a blank), a
    assert strip_marks([0, 3, 3, 0, 3, 1], tokens, 60) == [(15.0, "c", True), (25.0, "c", False),
                                                          (45.0, "c", True), (55.0, "a", True)]
    assert strip_marks([0, 0], tokens, 10) == []
