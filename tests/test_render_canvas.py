"""Target-like synthetic data: names on canvases draw what their labels say; scan clean-up in Preprocess."""

from __future__ import annotations

import numpy as np
import pytest

from htr_lit.assets import FONTS_DIR
from htr_lit.data.preprocess import Preprocess
from htr_lit.data.synth import render_canvas as rc
from htr_lit.data.synth.fonts import find_fonts
from htr_lit.data.synth.samples import SPLITS, make_plan, make_sample
from htr_lit.data.synth.spec import DEFAULT_SPEC, SyntheticSpec


@pytest.fixture(scope="module")
def print_font():
    """A plain print hand from the vendored set (always shipped with the package)."""
    return next(f for f in find_fonts(FONTS_DIR / "patrick-hand") if f.supports("Am Weg-Straße"))


def ink_columns(image: np.ndarray) -> np.ndarray:
    return (image < 128).any(axis=0)


def runs_of_blank(columns: np.ndarray) -> list[int]:
    """Lengths of the blank column runs strictly inside the ink's extent."""
    idx = np.flatnonzero(columns)
    inner = ~columns[idx[0] : idx[-1] + 1]
    runs, n = [], 0
    for blank in inner:
        if blank:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_canvas_has_the_requested_size_and_is_deterministic(print_font) -> None:
    a = rc.render_canvas("Lindenstraße", print_font, np.random.default_rng(1), height=64, width=256)
    b = rc.render_canvas("Lindenstraße", print_font, np.random.default_rng(1), height=64, width=256)
    assert a.shape == (64, 256) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert (a < 128).sum() > 50  # ink is there


def test_a_space_is_drawn_as_a_gap_between_words(monkeypatch, print_font) -> None:
    # Upright, full-height, unsqueezed, unclipped, clean paper: the layout is what the label says.
    monkeypatch.setattr(rc, "FILL", (1.0, 1.0))
    monkeypatch.setattr(rc, "SQUEEZE", (1.0, 1.0))
    monkeypatch.setattr(rc, "SHEAR", 0.0)
    monkeypatch.setattr(rc, "ROTATION_DEG", 0.0)
    monkeypatch.setattr(rc, "STROKE_KERNELS", (0,))
    for name in ("CLIP_P", "RULE_P", "SPECK_P", "EDGE_STROKE_P"):
        monkeypatch.setattr(rc, name, 0.0)
    one = rc.render_canvas("Amweg", print_font, np.random.default_rng(0), height=64, width=512)
    two = rc.render_canvas("Am weg", print_font, np.random.default_rng(0), height=64, width=512)
    assert max(runs_of_blank(ink_columns(two))) > max(runs_of_blank(ink_columns(one)) or [0]) + 3


def test_long_names_are_squeezed_into_the_canvas(monkeypatch, print_font) -> None:
    monkeypatch.setattr(rc, "CLIP_P", 0.0)
    monkeypatch.setattr(rc, "EDGE_STROKE_P", 0.0)
    monkeypatch.setattr(rc, "RULE_P", 0.0)
    monkeypatch.setattr(rc, "SPECK_P", 0.0)
    image = rc.render_canvas("Rudolf-Breitscheid-Straße Oberweißbach", print_font, np.random.default_rng(3))
    columns = np.flatnonzero(ink_columns(image))
    assert image.shape == (64, 256)
    assert columns[-1] - columns[0] > 0.8 * 256  # squeezed to span the canvas, not cut to a part of it


def test_blank_text_is_refused(print_font) -> None:
    with pytest.raises(ValueError):
        rc.render_canvas("  ", print_font, np.random.default_rng(0))


def test_names_style_renders_multiword_names_on_canvases() -> None:
    spec = SyntheticSpec(style="names", num_train=40, num_val=0, num_test=0, seed=3)
    plan, fonts = make_plan(spec)
    assert len(plan.families) >= 50  # Debian fonts + the vendored hands
    samples = [make_sample(plan, SPLITS["train"], i) for i in range(40)]
    assert all(image.shape == (64, 256) for _, _, image in samples)
    texts = [text for text, _, _ in samples]
    assert any(" " in t for t in texts) and any("-" in t for t in texts)
    assert all(font.supports(text) for text, font, _ in samples)
    again = make_sample(plan, SPLITS["train"], 7)
    assert again[0] == samples[7][0] and np.array_equal(again[2], samples[7][2])


def test_names_style_is_part_of_the_identity_but_words_identity_is_unchanged() -> None:
    assert "style" not in DEFAULT_SPEC.identity()  # datasets made before styles existed are reused
    assert SyntheticSpec(style="names").identity()["style"] == "names"
    with pytest.raises(ValueError, match="style"):
        SyntheticSpec(style="poems")


def _canvas_with_box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    img = np.full((64, 256), 250, np.uint8)
    img[y0:y1, x0:x1:3] = 20  # vertical strokes, like letters
    return img


def test_preprocess_crops_to_the_ink_before_normalising_the_height() -> None:
    img = _canvas_with_box(20, 40, 50, 150)  # ink 20 px tall, 100 px wide
    plain, cropped = Preprocess(), Preprocess(crop_ink=True, crop_margin=0.0)
    assert plain.normalize(plain.clean(img)).shape == (64, 256)
    out = cropped.normalize(cropped.clean(img))
    assert out.shape == (64, 100 * 64 // 20)  # the ink box (20 x 100 px) now fills the height
    assert Preprocess(crop_ink=True, crop_margin=0.1).clean(img).shape == (24, 104)  # 2 px margin each side


@pytest.mark.parametrize("kind", ["blank", "all_ink", "one_pixel"])
def test_preprocess_clean_up_keeps_degenerate_images_valid(kind: str) -> None:
    img = np.full((64, 256), 255, np.uint8) if kind != "all_ink" else np.zeros((64, 256), np.uint8)
    if kind == "one_pixel":
        img[30, 100] = 0
    pre = Preprocess(crop_ink=True, contrast=True, deslant=True)
    out = pre.normalize(pre.clean(img))
    assert out.shape == (64, 256) and out.dtype == np.uint8


def test_preprocess_settings_round_trip_through_the_checkpoint_dict() -> None:
    pre = Preprocess(crop_ink=True, contrast=True)
    assert Preprocess(**pre.to_dict()) == pre
    old = {"img_height": 64, "max_width": 1024, "min_width": 16}  # what checkpoints before clean-up store
    assert Preprocess(**old) == Preprocess()  # clean-up off: old models preprocess exactly as before
