"""Preprocess.normalize: the fixed-height resize shared by train, eval, predict and the ONNX metadata. Area
averaging shrinks, bilinear enlarges (every training image: DHSD ink crops and synthetic renders gain at most
~4x), Lanczos enlarges a low-resolution word more than SHARP_UPSCALE times."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htr_lit.data.preprocess import SHARP_UPSCALE, Preprocess


def word(height: int = 64, width: int = 256) -> np.ndarray:
    """A dark anti-aliased word on white paper, filling most of the height (uint8, (H, W))."""
    img = np.full((height, width), 255, np.uint8)
    cv2.putText(img, "Hagen", (4, int(height * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, height / 32, 0,
                max(1, height // 16), cv2.LINE_AA)
    return img


@pytest.mark.parametrize(("height", "interp"), [(128, cv2.INTER_AREA), (64, cv2.INTER_LINEAR),
                                                (32, cv2.INTER_LINEAR), (22, cv2.INTER_LINEAR),
                                                (21, cv2.INTER_LANCZOS4), (8, cv2.INTER_LANCZOS4)])
def test_interpolation_by_height_gain(height: int, interp: int):
    assert SHARP_UPSCALE == 3.0  # 64 / 22 = 2.9x stays bilinear, 64 / 21 = 3.05x is Lanczos
    img = cv2.resize(word(), (height * 4, height), interpolation=cv2.INTER_AREA)
    got = Preprocess(img_height=64).normalize(img)
    np.testing.assert_array_equal(got, cv2.resize(img, (256, 64), interpolation=interp))


def test_width_is_clamped():
    pre = Preprocess(img_height=64, min_width=16, max_width=300)
    assert pre.normalize(np.full((64, 4), 255, np.uint8)).shape == (64, 16)
    assert pre.normalize(np.full((16, 400), 255, np.uint8)).shape == (64, 300)


def test_a_low_resolution_word_is_enlarged_closer_to_the_sharp_original():
    """A word stored at a quarter of its size comes back nearer the full-size word with Lanczos than with the
    bilinear resize that training-size images get."""
    sharp = word()
    small = cv2.resize(sharp, (64, 16), interpolation=cv2.INTER_AREA)
    got = Preprocess(img_height=64).normalize(small).astype(float)
    bilinear = cv2.resize(small, (256, 64), interpolation=cv2.INTER_LINEAR).astype(float)
    assert np.abs(got - sharp).mean() < 0.9 * np.abs(bilinear - sharp).mean()
