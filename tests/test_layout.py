"""Inputs that are not one word: text lines found by the ink's projection profile (htr_lit/data/layout.py),
read a line at a time by predict, blank inputs flagged; hand-made images and real DHSD words stacked into a page."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchmetrics.functional.text import char_error_rate

from htr_lit.data import layout
from htr_lit.data.preprocess import read_gray
from tests.helpers import compose_cfg

SAMPLE = Path(__file__).parent / "data" / "dhsd_sample"
SHARED_DHSD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dhsd"


def sample_rows() -> list[dict[str, str]]:
    with (SAMPLE / "labels.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def stacked_page(rows: list[dict[str, str]]) -> np.ndarray:
    """The rows' word images one above the other (each a 256 x 64 DHSD canvas), white where narrower."""
    images = [read_gray(SAMPLE / r["file_name"]) for r in rows]
    page = np.full((sum(im.shape[0] for im in images), max(im.shape[1] for im in images)), 255, np.uint8)
    y = 0
    for im in images:
        page[y : y + im.shape[0], : im.shape[1]] = im
        y += im.shape[0]
    return page


def test_bands_merge_marks_and_split_lines_by_hand() -> None:
    page = np.full((100, 60), 255, np.uint8)
    assert layout.text_lines(page) == []  # blank
    page[10:30, 5:55] = 0  # a line 20 px tall
    page[6:8, 20:24] = 0  # a dot 2 px above it: part of the line
    assert layout.text_lines(page) == [(6, 30)]
    page[60:82, 5:40] = 0  # a second line, 30 px below
    assert layout.text_lines(page) == [(6, 30), (60, 82)]
    cut = layout.cut_lines(page, [(6, 30), (60, 82)])
    assert [c.shape[0] for c in cut] == [45, 55] and sum(c.shape[0] for c in cut) == 100  # split mid-gap


def test_every_vendored_word_is_one_line_and_twelve_stacked_are_twelve() -> None:
    rows = sample_rows()
    for r in rows:
        assert len(layout.text_lines(read_gray(SAMPLE / r["file_name"]))) == 1, r["file_name"]
    lines = layout.text_lines(stacked_page(rows[:12]))
    assert len(lines) == 12
    assert [top // 64 for top, _ in lines] == list(range(12))  # each line inside its own word's canvas
    assert all((bottom - 1) // 64 == top // 64 for top, bottom in lines)


@pytest.mark.skipif(not (SHARED_DHSD / "labels.csv").is_file(), reason="needs ../shared/data/dhsd")
def test_no_dhsd_word_is_split_into_lines() -> None:
    """Every one of DHSD's 4,815 words is one line (one near-blank scan is none): predict's line search never
    cuts a word the recognizers were trained and measured on."""
    from htr_lit.data.preprocess import Preprocess

    pre = Preprocess()
    with (SHARED_DHSD / "labels.csv").open(encoding="utf-8") as f:
        counts = [len(layout.text_lines(pre.paper(SHARED_DHSD / r["file_name"]))) for r in csv.DictReader(f)]
    assert len(counts) == 4815 and max(counts) == 1 and counts.count(0) <= 1


def test_predict_reads_a_page_of_stacked_words_line_by_line_and_flags_a_blank(tmp_path, capsys, caplog) -> None:
    """The shipped recognizer (it trained on these writers: a product check, not an accuracy figure) reads twelve
    stacked real words as twelve lines; a blank image gets confidence 0; both are named in a warning line."""
    from htr_lit.predict import predict

    rows = sample_rows()[:12]
    Image.fromarray(stacked_page(rows)).save(tmp_path / "page.png")
    Image.new("L", (256, 64), 255).save(tmp_path / "blank.png")
    assert predict(compose_cfg("predict", [f"input={tmp_path}", "format=jsonl", "backend=torch"])) == 0
    out = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    page = out["page.png"]
    assert len(page["lines"]) == 12 and page["text"].split("\n") == [line["text"] for line in page["lines"]]
    truth = [r["text"] for r in rows]
    cer = float(char_error_rate([line["text"] for line in page["lines"]], truth))
    assert cer <= 0.10, (cer, page["text"])
    assert all(0.0 <= line["confidence"] <= 1.0 for line in page["lines"])
    assert out["blank.png"]["text"] == "" and out["blank.png"]["confidence"] == 0.0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("page.png: 12 text lines found" in w for w in warnings)
    assert any("blank.png: no writing found" in w for w in warnings)
    # lines=false: the page is read as one word, as before
    assert predict(compose_cfg("predict", [f"input={tmp_path / 'page.png'}", "format=jsonl", "backend=torch",
                                           "lines=false"])) == 0
    assert "lines" not in json.loads(capsys.readouterr().out)
