"""Every image mode a scanner, a phone or an export script writes is read as the same 8-bit grayscale
(htr_lit.data.preprocess.read_gray, used by train, eval, predict and every predict backend)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr_lit.data.formats import IMAGE_SUFFIXES
from htr_lit.data.preprocess import read_gray


@pytest.fixture
def gray() -> np.ndarray:
    """A (20, 50) uint8 image: white paper, a black bar at rows 5-9, a mid-gray bar at columns 30-34."""
    img = np.full((20, 50), 255, dtype=np.uint8)
    img[5:10, :] = 0
    img[:, 30:35] = 128
    return img


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path, gray: np.ndarray):
    # Pillow's convert("L") clips 16-bit values to 255: a 16-bit scan used to read as blank paper.
    path = tmp_path / "scan16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(path)
    assert Image.open(path).mode.startswith("I;16")
    np.testing.assert_array_equal(read_gray(path), gray)


@pytest.mark.parametrize("scale", [1.0 / 255.0, 1.0])
def test_float_tiff_in_unit_or_byte_range(tmp_path: Path, gray: np.ndarray, scale: float):
    path = tmp_path / "scan.tif"
    Image.fromarray(gray.astype(np.float32) * scale, mode="F").save(path)
    np.testing.assert_array_equal(read_gray(path), gray)


def test_float_tiff_without_values_reads_them_as_zero(tmp_path: Path, gray: np.ndarray):
    """NaN / infinite pixels (a float export's no-data) read as 0, the rest as before, without a numpy warning."""
    values = gray.astype(np.float32) / 255.0
    values[0, :5] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
    path = tmp_path / "nodata.tif"
    Image.fromarray(values, mode="F").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_gray(path)
    expected = gray.copy()
    expected[0, :5] = 0
    np.testing.assert_array_equal(got, expected)


def test_exif_rotated_jpeg_is_read_upright(tmp_path: Path):
    # A phone stores the pixels sideways and an EXIF orientation tag (6: rotate 90 degrees clockwise to view).
    upright = np.full((40, 120), 255, dtype=np.uint8)
    upright[:, :20] = 0  # ink at the left edge of the upright word
    stored = np.rot90(upright, k=1)  # (120, 40): the left edge is now the bottom rows
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    arr = read_gray(path)
    assert arr.shape == (40, 120)
    assert arr[:, :15].mean() < 30 and arr[:, 25:].mean() > 225


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_webp_and_gif_are_listed_and_read(tmp_path: Path, gray: np.ndarray, suffix: str):
    assert suffix in IMAGE_SUFFIXES
    path = tmp_path / f"word{suffix}"
    Image.fromarray(gray).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    np.testing.assert_array_equal(read_gray(path), gray)
