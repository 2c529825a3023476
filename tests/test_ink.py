"""Ink threshold, box, crop, contrast, deslant and uneven lighting on canvases with known ink, edge cases,
and real DHSD scans."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from htr_lit.data.ink import (
    RULE_SPAN,
    _rules,
    _shear,
    crop_to_ink,
    deslant,
    estimate_slant,
    flatten_paper,
    ink_box,
    ink_threshold,
    is_bitonal,
    is_blank,
    normalize_contrast,
    paper_is_dark,
    soften_bitonal,
)

DHSD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dhsd"
SAMPLE = Path(__file__).parent / "data" / "dhsd_sample"


def paper(
    height: int = 64, width: int = 256, seed: int = 0, level: int = 235, noise: float = 6.0
) -> np.ndarray:
    """Noisy light paper (H, W) uint8."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(level, noise, (height, width)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(5))
def test_box_of_strokes_on_noisy_paper(seed):
    rng = np.random.default_rng(seed)
    img = paper(seed=seed)
    y0, x0 = int(rng.integers(5, 25)), int(rng.integers(5, 80))
    y1, x1 = y0 + int(rng.integers(15, 35)), x0 + int(rng.integers(60, 160))
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), 40, 2)  # outline: thin strokes only
    cv2.line(img, (x0 + 5, y1 - 3), (x1 - 5, y0 + 3), 60, 1)
    img[rng.integers(0, 64, 6), rng.integers(0, 256, 6)] = 30  # isolated specks, not writing
    box = ink_box(img)
    assert box is not None
    assert np.abs(np.array(box) - np.array([y0, y1, x0, x1])).max() <= 1


def test_crop_margin_pixels_and_fraction_clipped_to_image():
    img = paper()
    img[20:40, 100:150] = 20
    assert crop_to_ink(img, margin=0).shape == (20, 50)
    assert crop_to_ink(img, margin=3).shape == (26, 56)
    assert crop_to_ink(img, margin=0.5).shape == (40, 70)  # 10 px = half the box height
    img[0:10, 0:10] = 20
    assert crop_to_ink(img, margin=5).shape[:2] == (45, 155)  # clipped at the top-left corner


def test_faint_pencil_still_counts_as_ink():
    img = paper(level=250, noise=2)
    cv2.line(img, (30, 30), (200, 34), 215, 2)  # DHSD's faintest writer: ink ~215 on paper ~254
    assert ink_box(img) is not None


@pytest.mark.parametrize(
    "img",
    [
        np.full((64, 256), 255, np.uint8),  # blank
        paper(noise=8),  # blank but noisy
        np.full((64, 256), 10, np.uint8),  # all ink
        np.zeros((0, 0), np.uint8),  # empty
    ],
    ids=["blank", "noisy-blank", "all-ink", "empty"],
)
def test_no_ink_returns_the_image_unchanged(img):
    assert ink_threshold(img) is None and ink_box(img) is None
    assert crop_to_ink(img) is img
    assert normalize_contrast(img) is img
    assert deslant(img) is img


@pytest.mark.parametrize("level", [0, 128, 255])
def test_uniform_images_are_blank_and_faint_or_speckled_ones_are_not(level):
    assert is_blank(np.full((64, 256), level, np.uint8)) and is_blank(np.zeros((0, 0), np.uint8))
    faint = paper(level=250, noise=2)
    cv2.line(faint, (30, 30), (200, 34), 215, 2)
    assert not is_blank(faint)
    speck = np.full((64, 256), 250, np.uint8)
    speck[30, 100] = 0
    assert not is_blank(speck) and not paper_is_dark(np.full((64, 256), level, np.uint8))


@pytest.mark.parametrize("seed", range(3))
def test_dark_paper_is_found_on_negatives_only(seed):
    img = paper(seed=seed)
    cv2.putText(img, "Leipzig-Mitte", (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 30, 3)  # bold: a large ink share
    assert not paper_is_dark(img)
    assert paper_is_dark(255 - img)


def test_one_pixel_and_tiny_ink():
    img = np.full((64, 256), 250, np.uint8)
    img[30, 100] = 0
    assert ink_box(img) is None and crop_to_ink(img) is img  # a speck
    img[30:32, 100:102] = 0
    assert ink_box(img) == (30, 32, 100, 102)  # 4 px is ink
    assert crop_to_ink(img, margin=1).shape == (4, 4)


def test_form_rules_are_not_ink():
    img = paper()
    img[20:40, 100:150] = 30
    img[:, 10] = 90  # vertical scan rule spanning the height
    img[60, 5:250] = 90  # horizontal rule
    assert ink_box(img) == (20, 40, 100, 150)


def _rules_by_opening(ink: np.ndarray) -> np.ndarray:
    """The rule mask by both openings always (what `_rules` computes, without its skip for rule-free images)."""
    height, width = ink.shape
    tall, wide = max(2, int(RULE_SPAN[0] * height)), max(2, int(RULE_SPAN[1] * width))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((tall, 1), np.uint8))
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, wide), np.uint8))
    return cv2.dilate(vertical, np.ones((1, 3), np.uint8)) | cv2.dilate(horizontal, np.ones((3, 1), np.uint8))


@pytest.mark.parametrize("seed", range(3))
def test_skipping_openings_never_changes_the_rules(seed):
    """`_rules` skips an opening when no column / row has half a kernel of ink; runs that touch the border
    (which an opening counts as ink) just above and below that length must still come out as with both
    openings."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        height, width = int(rng.integers(4, 100)), int(rng.integers(4, 300))
        ink = (rng.random((height, width)) < rng.uniform(0.0, 0.2)).astype(np.uint8)  # (H, W) specks
        tall, wide = max(2, int(RULE_SPAN[0] * height)), max(2, int(RULE_SPAN[1] * width))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        run = tall // 2 + int(rng.integers(-1, 2))
        ink[:run, x] = 1 if rng.random() < 0.5 else ink[:run, x]  # from the top border
        run = wide // 2 + int(rng.integers(-1, 2))
        ink[y, width - run:] = 1 if rng.random() < 0.5 else ink[y, width - run:]  # to the right border
        assert np.array_equal(_rules(ink), _rules_by_opening(ink))
    border = np.zeros((64, 256), np.uint8)
    tall = int(RULE_SPAN[0] * 64)  # 51 px: the vertical kernel
    border[: tall // 2 + 1, 7] = 1  # 26 px from the top border: the opening keeps it (the border counts as ink)
    assert _rules(border)[:, 7].any() and np.array_equal(_rules(border), _rules_by_opening(border))


@pytest.mark.parametrize("rule_width", [60, 240], ids=["short-line", "form-rule"])
def test_faint_writing_above_a_dark_line_is_found(rule_width):
    """Otsu splits a dark ruled line from faint pencil (DHSD writer 14): the line is not the word."""
    img = paper(level=250, noise=2)
    img[20:44, 40:200] = np.where(np.arange(160) % 6 < 2, 200, 250).astype(np.uint8)  # faint strokes
    img[58:61, 30 : 30 + rule_width] = 40  # a dark line below the word, darker than the pencil
    assert ink_box(img) == (20, 44, 40, 198)


def test_a_flat_stroke_alone_stays_the_ink():
    img = paper(level=250, noise=2)
    img[40:43, 50:110] = 40  # a dash (shorter than a form rule): nothing fainter to find instead
    assert ink_box(img) == (40, 43, 50, 110)


def test_normalize_contrast_stretches_faint_ink():
    img = paper(level=240, noise=2)
    img[20:40, 60:200] = 200
    out = normalize_contrast(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out[20:40, 60:200].mean() < 20 and np.median(out) >= 250


def test_deslant_makes_italic_strokes_upright():
    upright = np.full((64, 200), 250, np.uint8)
    for x in range(20, 180, 20):
        upright[10:54, x : x + 3] = 20
    italic = _shear(upright, 0.3)  # tops leaning right
    assert estimate_slant(italic) == pytest.approx(-0.3, abs=0.06)
    assert estimate_slant(upright) == 0.0 and deslant(upright) is upright
    fixed = deslant(italic)
    ink_columns = (fixed < 128).any(axis=0).sum()
    assert ink_columns <= (upright < 128).any(axis=0).sum() + 8  # vs ~8*(3+13) columns while slanted


def _sample_scans() -> list[np.ndarray]:
    """The 18 real DHSD scans vendored under tests/data/dhsd_sample (9 writers, CC BY 4.0, see its README)."""
    with open(SAMPLE / "labels.csv", encoding="utf-8", newline="") as handle:
        return [cv2.imread(str(SAMPLE / row["file_name"]), cv2.IMREAD_GRAYSCALE) for row in csv.DictReader(handle)]


@pytest.mark.skipif(not (DHSD / "labels.csv").is_file(), reason="DHSD (../shared/data/dhsd) not present")
def test_no_real_scan_counts_as_a_negative_and_only_the_empty_one_as_blank():
    with open(DHSD / "labels.csv", encoding="utf-8") as f:
        names = [row["file_name"] for row in csv.DictReader(f)]  # 4,815
    grays = [cv2.imread(str(DHSD / n), cv2.IMREAD_GRAYSCALE) for n in names]
    assert not any(paper_is_dark(g) for g in grays)
    assert all(flatten_paper(g) is g for g in grays)  # evenly lit: the lighting step leaves every scan alone
    assert not any(is_bitonal(g) for g in grays)  # and no scan is two-level: the bitonal blur leaves them alone
    assert [n for n, g in zip(names, grays) if is_blank(g)] == ["images/writer33/33_43.png"]  # all white


def test_real_scans_crop_keeps_all_writing():
    """Every clearly dark stroke (10+ px component, not a 1-2 px form rule) stays inside the crop."""
    ratios = []
    for img in _sample_scans():
        box = ink_box(img)
        assert box is not None
        y0, y1, x0, x1 = box
        dark = (img <= ink_threshold(img) - 30).astype(np.uint8)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
        rule = (np.minimum(w, h) <= 2) & (np.maximum(w, h) >= 40)
        writing = np.isin(labels, np.flatnonzero((area >= 10) & ~rule)[1:] if len(stats) > 1 else [])
        writing[y0:y1, x0:x1] = False
        assert not writing.any()
        crop = crop_to_ink(img, margin=0)
        assert crop.shape == (y1 - y0, x1 - x0)
        ratios.append(img.shape[0] / crop.shape[0])
    print(f"mean height gain after crop + height normalisation: x{np.mean(ratios):.2f}")
    assert np.mean(ratios) > 1.3


def word_on(background: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Dark strokes (ink at 45 % of the paper's brightness, anti-aliased edges) in a known box on a given paper."""
    img = background.astype(np.float32)
    ink = np.zeros(background.shape, np.uint8)
    cv2.putText(ink, "Hagenweg", (40, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2, cv2.LINE_AA)  # grey edges, as scanned
    img *= 1.0 - 0.55 * ink.astype(np.float32) / 255.0
    ys, xs = np.nonzero(ink > 127)
    return img.astype(np.uint8), (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


@pytest.mark.parametrize("dark_side", [90, 130])
def test_a_shadow_across_the_paper_is_divided_out_and_the_word_found(dark_side):
    shade = np.linspace(dark_side, 240, 256, dtype=np.float32)[None, :].repeat(64, axis=0)  # left in shadow
    img, box = word_on(shade)
    assert ink_box(img) != box  # without flattening, the shadow is taken for ink
    flat = flatten_paper(img)
    assert ink_box(flat) is not None and np.abs(np.array(ink_box(flat)) - np.array(box)).max() <= 1
    paper_mask = np.ones_like(img, bool)
    paper_mask[box[0] - 3:box[1] + 3, box[2] - 3:box[3] + 3] = False
    assert flat[paper_mask].min() >= 235  # the paper is white on both sides of the shadow


@pytest.mark.parametrize("spread", [0, 30, 48])
def test_even_or_gently_shaded_paper_is_left_alone(spread):
    img, _ = word_on(np.linspace(240 - spread, 240, 256, dtype=np.float32)[None, :].repeat(64, axis=0))
    assert flatten_paper(img) is img
    blank = np.full((64, 256), 30, np.uint8)
    assert flatten_paper(blank) is blank


def test_shadowed_and_negative_words_load_like_the_clean_word(tmp_path):
    """Through Preprocess.load (train, eval, predict): a word in a shadow, and a negative, give the image of
    the evenly lit word (the negative is inverted first, so the lighting step never sees dark paper)."""
    from htr_lit.data.preprocess import Preprocess

    clean, _ = word_on(np.full((64, 256), 250, np.float32))
    shadowed, _ = word_on(np.linspace(90, 240, 256, dtype=np.float32)[None, :].repeat(64, axis=0))
    for name, img in [("clean", clean), ("shadow", shadowed), ("negative", 255 - clean)]:
        cv2.imwrite(str(tmp_path / f"{name}.png"), img)
    pre = Preprocess(crop_ink=True)
    ref = pre.load(tmp_path / "clean.png").astype(int)
    for name in ["shadow", "negative"]:
        got = pre.load(tmp_path / f"{name}.png").astype(int)
        assert got.shape == ref.shape and np.abs(got - ref).mean() < 12, name


def test_bitonal_scans_get_grey_stroke_edges_back():
    """A thresholded and a Floyd-Steinberg dithered copy of a word are two-level images; blurred, the dithered
    one's dots turn back into the word's strokes, and neither loses its ink box. (What it is worth to a
    recognizer is measured on real scans: tests/test_shipped_models.py, htr_lit/measuring/check_robustness.py.)"""
    from PIL import Image

    clean, box = word_on(np.full((64, 256), 240, np.float32))
    thresholded = np.where(clean > 170, 255, 0).astype(np.uint8)
    dithered = np.asarray(Image.fromarray(clean).convert("1").convert("L"))  # paper 240 -> white + a few dots

    def likeness(img: np.ndarray) -> float:
        return float(np.corrcoef(img.ravel().astype(float), clean.ravel().astype(float))[0, 1])

    assert not is_bitonal(clean)
    for img in (thresholded, dithered):
        assert is_bitonal(img)
        soft = soften_bitonal(img)
        assert len(np.unique(soft)) > 2 and soft.max() == 255  # grey edges, the paper still white
        assert np.abs(np.array(ink_box(soft)) - np.array(box)).max() <= 1
    assert likeness(dithered) < 0.6 and likeness(soften_bitonal(dithered)) > 0.9
    assert likeness(soften_bitonal(thresholded)) > 0.95


@pytest.mark.parametrize("levels", [1, 3, 256])
def test_images_of_other_than_two_levels_are_not_blurred(levels):
    img = (np.arange(64 * 256).reshape(64, 256) % levels * (255 // max(levels - 1, 1))).astype(np.uint8)
    assert len(np.unique(img)) == levels
    assert not is_bitonal(img) and soften_bitonal(img) is img
