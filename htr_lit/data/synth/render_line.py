"""Rendering a synthetic text line: words joined with spaces until the line fills about a target width.

For the speed-against-length benchmark and line-level experiments (`htr-synth --style lines`): the
image is exactly `height` x `width` (128 .. 2048 px at height 64), the label exactly the joined words.
The line is written as one string with the word renderer's steps (font size, slant, tiny rotation, ink
on paper), so the spacing between words is the font's own. All randomness comes from the generator.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from htr_lit.data.synth.fonts import FontError, FontInfo
from htr_lit.data.synth.render import (
    MARGIN_X,
    MARGIN_Y,
    RENDER_SCALE,
    SHEAR,
    _load_font,
    crop_mask,
    draw_text,
    font_size_for,
    ink_on_paper,
    warp,
)

LINE_FILL = (0.9, 1.0)  # the line's estimated ink width / canvas width: words are added up to it
INK_HEIGHT = 0.9  # the ink's share of the image height (the rest is margin) when estimating widths
LINE_ROTATION_DEG = 0.5  # a long line rotated by the words' 3 degrees would be squashed to a sliver
MAX_WORDS = 400
MAX_TRIES = 200  # draws per word that the font must be able to write
MAX_MISSES = 5  # words in a row too long for the rest of the line: the line is full


def ink_width(text: str, path: str, ink_height: float) -> float:
    """Width in px of `text` drawn with the font at `path` so that its ink is `ink_height` px tall."""
    left, top, right, bottom = _load_font(path, 48).getbbox(text)
    return ink_height * (right - left) / max(bottom - top, 1)


def line_text(sample: Callable[[np.random.Generator], str], font: FontInfo, rng: np.random.Generator,
              height: int, width: int, first: str) -> str:
    """`first`, then words from `sample` the font can write, joined with single spaces, while the line
    drawn in a `height` px line stays within a random 90-100 % of `width` (the first word always stays;
    a word too long for the rest is skipped, MAX_MISSES of them in a row end the line)."""
    path = str(font.path)
    target = width * rng.uniform(*LINE_FILL)
    words, misses = [first], 0
    while len(words) < MAX_WORDS and misses < MAX_MISSES:
        word = next((w for w in (sample(rng) for _ in range(MAX_TRIES)) if font.supports(w) and w.strip()), None)
        if word is None:
            raise FontError(f"font {font.path} cannot draw any of {MAX_TRIES} sampled words; check the word lists")
        if ink_width(" ".join([*words, word]), path, INK_HEIGHT * height) > target:
            misses += 1
        else:
            words, misses = [*words, word], 0
    return " ".join(words)


def render_line(text: str, font: FontInfo, rng: np.random.Generator, height: int = 64,
                width: int = 1024) -> np.ndarray:
    """`text` as one handwritten-looking line on a `height` x `width` image (uint8, dark ink on light paper):
    fitted to the height with a small margin, from the left; squeezed horizontally if it would not fit."""
    if not text.strip():
        raise ValueError("render_line needs a non-blank text")
    path = str(font.path)
    size = font_size_for(text, path, height * rng.uniform(*RENDER_SCALE))
    mask = draw_text(text, path, size)
    mask = warp(mask, shear=rng.uniform(-SHEAR, SHEAR), angle_deg=rng.uniform(-LINE_ROTATION_DEG, LINE_ROTATION_DEG))
    ink = crop_mask(mask)  # (h, w) tight
    top, bottom = (int(v) for v in rng.integers(*MARGIN_Y, size=2))
    left = int(rng.integers(*MARGIN_X))
    inner_h = max(height - top - bottom, 1)
    inner_w = min(max(int(round(ink.shape[1] * inner_h / ink.shape[0])), 1), width - left - 1)
    interp = cv2.INTER_AREA if inner_h < ink.shape[0] else cv2.INTER_LINEAR
    canvas = np.zeros((height, width), np.uint8)
    canvas[top : top + inner_h, left : left + inner_w] = cv2.resize(ink, (inner_w, inner_h), interpolation=interp)
    return ink_on_paper(canvas, rng)
