"""The synthetic lines style (`htr-synth --style lines`, data/source=synthetic_lines): images exactly the
line width, labels the words that are really drawn, in that order; deterministic with the seed."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest

from htr_lit.data.synth import render_line
from htr_lit.data.synth.render import crop_mask, draw_text
from htr_lit.data.synth.samples import make_plan, make_sample
from htr_lit.data.synth.spec import SyntheticSpec
from tests.helpers import compose_cfg


@cache
def plan(width: int, seed: int):
    """Finding the fonts and reading the word lists takes seconds: once per (width, seed)."""
    return make_plan(SyntheticSpec(style="lines", canvas_width=width, seed=seed))[0]


def lines(width: int, n: int, seed: int = 1) -> list[tuple[str, object, np.ndarray]]:
    return [make_sample(plan(width, seed), 0, i) for i in range(n)]


def ink_columns(image: np.ndarray) -> np.ndarray:
    """Which columns between the first and the last inked one hold ink (threshold half-way paper -> ink)."""
    ink = (image < (np.median(image) + image.min()) / 2).any(axis=0)
    cols = np.flatnonzero(ink)
    return ink[cols[0] : cols[-1] + 1]


def gap_agreement(image: np.ndarray, text: str, font_path: str) -> float:
    """Share of the blank columns of `text` drawn straight with the font (the gaps between words and
    letters), resampled to the image's ink width, that are blank in the image too."""
    cols = ink_columns(image)
    ref = (crop_mask(draw_text(text, font_path, 48)) > 40).any(axis=0).astype(np.uint8)[None]  # (1, w)
    gaps = cv2.resize(ref, (len(cols), 1), interpolation=cv2.INTER_NEAREST)[0] == 0
    return float((~cols[gaps]).mean())


@pytest.mark.parametrize("width", [128, 512, 2048])
def test_lines_fill_exactly_the_width_and_hold_more_words_when_wider(width):
    samples = lines(width, 4)
    for text, font, image in samples:
        assert image.shape == (64, width) and image.dtype == np.uint8
        assert text == text.strip() and "  " not in text and font.supports(text)
        assert np.median(image) > 150 and image.min() < 120  # mostly paper, some ink
        assert len(ink_columns(image)) > 0.6 * width or len(text.split()) == 1  # one word may be all that fits
    assert np.mean([len(ink_columns(image)) for _, _, image in samples]) > 0.75 * width  # 90-100 % targeted
    words = np.mean([len(t.split()) for t, _, _ in samples])
    assert words >= {128: 1, 512: 2, 2048: 6}[width]


def test_lines_are_deterministic_and_share_the_words_style_rng_until_the_first_word():
    a, b = lines(1024, 3, seed=4), lines(1024, 3, seed=4)
    assert all(x[0] == y[0] and np.array_equal(x[2], y[2]) for x, y in zip(a, b))
    assert [t for t, _, _ in lines(1024, 3, seed=5)] != [t for t, _, _ in a]
    # the same (seed, split, index) starts with the same word at every width: a wider line goes on longer
    narrow, wide = lines(512, 3, seed=4), lines(2048, 3, seed=4)
    assert all(w[0].startswith(n[0].split()[0]) and len(w[0]) > len(n[0]) for n, w in zip(narrow, wide))


def test_labels_are_the_words_drawn_in_order(monkeypatch):
    """Drawn straight (no slant, no rotation), the image's blank columns are where the label's own gaps
    fall; the label's words in reverse order put them elsewhere (the check can fail)."""
    monkeypatch.setattr(render_line, "SHEAR", 0.0)
    monkeypatch.setattr(render_line, "LINE_ROTATION_DEG", 0.0)
    checked = 0
    for width in (512, 1024, 2048):
        for text, font, image in lines(width, 4):
            words = text.split(" ")
            if len(words) < 3 or words == words[::-1]:
                continue
            assert gap_agreement(image, text, str(font.path)) > 0.7, text
            assert gap_agreement(image, " ".join(words[::-1]), str(font.path)) < 0.5, text
            checked += 1
    assert checked >= 8


def test_the_lines_source_config_has_one_folder_per_width(tmp_path):
    cfg = compose_cfg("train", ["data/source=synthetic_lines", f"paths.data_dir={tmp_path}",
                                "data.source.canvas_width=512"], tmp_path)
    assert cfg.data.source.root == f"{tmp_path}/synth_lines_512" and cfg.data.source.style == "lines"
    tiny = compose_cfg("train", ["data/source=synthetic_lines", f"paths.data_dir={tmp_path}", "debug=tiny"], tmp_path)
    assert tiny.data.source.root == f"{tmp_path}/synth_lines_1024_tiny" and tiny.data.source.num_train == 256
    assert SyntheticSpec(style="lines", canvas_width=512).identity()["canvas_width"] == 512
