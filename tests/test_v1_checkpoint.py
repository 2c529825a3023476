"""A checkpoint saved by htr-lit before the restructure (format version 1, commit 2de015d) still loads and
predicts exactly what that version predicted: same texts, same beam scores (tests/data/v1_checkpoint). The beam's
word confidence is P(text | image) under CTC (calibration.CtcConfidence), stored as today's code gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from htr_lit.checkpoint import FORMAT_VERSION, load_model, read_checkpoint
from htr_lit.predict import predict
from tests.helpers import compose_cfg

V1 = Path(__file__).parent / "data" / "v1_checkpoint"


def predictions(capsys, *overrides: str) -> list[dict]:
    cfg = compose_cfg("predict", [f"ckpt_path={V1 / 'model.ckpt'}", f"input={V1 / 'images'}", "format=jsonl",
                                  *overrides])
    assert predict(cfg) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for row in rows:
        row["path"] = str(Path(row["path"]).relative_to(V1))
    return rows


def expected(name: str) -> list[dict]:
    return [json.loads(line) for line in (V1 / name).read_text().splitlines()]


def test_the_stored_checkpoint_predates_the_change() -> None:
    meta = read_checkpoint(V1 / "model.ckpt")["htr_lit"]
    assert meta["format_version"] == 1 <= FORMAT_VERSION
    assert set(meta["preprocess"]) == {"img_height", "max_width", "min_width"}  # no clean-up settings yet
    model, pre = load_model(V1 / "model.ckpt")
    assert not (pre.crop_ink or pre.contrast or pre.deslant)  # old models preprocess exactly as before
    assert model.charset.chars


@pytest.mark.parametrize(("name", "overrides"), [
    ("expected_greedy.jsonl", ()),
    ("expected_beam_top3.jsonl", ("decoder=beam", "top_n=3")),
])
def test_old_checkpoint_predicts_what_it_predicted_before(capsys, name, overrides) -> None:
    got, want = predictions(capsys, *overrides), expected(name)
    assert len(got) == len(want) == 10
    # Same paths and texts in input order; confidences and beam scores are stored rounded to 4 digits and may
    # differ in the last digit between CPUs (float sums in another order), so they are compared to 2e-4.
    assert [(g["path"], g["text"]) for g in got] == [(w["path"], w["text"]) for w in want]
    assert [g["confidence"] for g in got] == pytest.approx([w["confidence"] for w in want], abs=2e-4)
    for g, w in zip(got, want, strict=True):
        assert [h["text"] for h in g.get("hypotheses", [])] == [h["text"] for h in w.get("hypotheses", [])]
        assert [h["score"] for h in g.get("hypotheses", [])] == pytest.approx(
            [h["score"] for h in w.get("hypotheses", [])], abs=2e-4)
