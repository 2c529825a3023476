"""Rendering one synthetic word image: a word drawn with a handwriting font, slanted, rotated, its stroke
varied, cropped to the ink, fitted to the output height and put as dark ink on light paper.

All randomness comes from the generator passed in, so a (text, font, rng state) always gives the same image.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htr_lit.data.synth.fonts import FontInfo

# Rendering ranges (see render_word). Ink height is relative to the output height before resizing.
RENDER_SCALE = (0.8, 1.4)
MIN_FONT_SIZE, MAX_FONT_SIZE = 12, 160
SHEAR = 0.4
ROTATION_DEG = 3.0
INK_LEVEL = (0.0, 90.0)
PAPER_LEVEL = (170.0, 255.0)
MARGIN_Y = (1, 5)  # output pixels above and below the ink
MARGIN_X = (2, 9)
INK_THRESHOLD = 40  # mask level counted as ink when cropping
MAX_FILL_TO_DILATE = 0.16  # bolder fonts are not thickened


@lru_cache(maxsize=512)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A PIL font object; cached because loading a face costs more than drawing a word."""
    return ImageFont.truetype(path, size)


def font_size_for(text: str, path: str, target_height: float) -> int:
    """The font size at which the ink of `text` is about `target_height` pixels tall."""
    ref = 48
    left, top, right, bottom = _load_font(path, ref).getbbox(text)
    ink_height = max(bottom - top, 1)
    return int(np.clip(round(ref * target_height / ink_height), MIN_FONT_SIZE, MAX_FONT_SIZE))


def draw_text(text: str, path: str, size: int) -> np.ndarray:
    """White-on-black anti-aliased mask of `text`, with a small border."""
    font = _load_font(path, size)
    left, top, right, bottom = font.getbbox(text)
    pad = 2 + size // 10
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=255)
    return np.array(image)


def warp(mask: np.ndarray, shear: float, angle_deg: float) -> np.ndarray:
    """Slant (x shifts with height; positive leans right) and rotate, enlarging the canvas to fit."""
    h, w = mask.shape
    shear_m = np.array([[1.0, -shear, shear * h / 2], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    rot_m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0), [0.0, 0.0, 1.0]])
    m = rot_m @ shear_m
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64).T
    moved = m[:2] @ corners
    x0, y0 = moved.min(axis=1)
    x1, y1 = moved.max(axis=1)
    m[0, 2] -= x0
    m[1, 2] -= y0
    size = (int(np.ceil(x1 - x0)) + 1, int(np.ceil(y1 - y0)) + 1)
    return cv2.warpAffine(mask, m[:2], size, flags=cv2.INTER_LINEAR, borderValue=0)


def _vary_stroke(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sometimes thicken (dilate) or thin (erode) the strokes.

    Fonts that are already bold (ink fills much of its box) are not thickened further, and thinning is
    skipped where it would erase much of the ink (hairline fonts).
    """
    choice = rng.random()
    if choice < 0.25:
        fill = _ink_fill(mask)
        if fill < MAX_FILL_TO_DILATE:
            size = 3 if fill < 0.1 and rng.random() < 0.5 else 2
            return cv2.dilate(mask, np.ones((size, size), np.uint8))
    elif choice < 0.45:
        thinner = cv2.erode(mask, np.ones((2, 2), np.uint8))
        if int(thinner.sum()) >= 0.6 * int(mask.sum()):
            return thinner
    return mask


def _ink_bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the ink's bounding box, or None when there is no ink."""
    ink = mask > INK_THRESHOLD
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _ink_fill(mask: np.ndarray) -> float:
    """The mean ink coverage inside the ink's bounding box (about 0.1 for thin fonts, 0.3 for bold)."""
    box = _ink_bbox(mask)
    return 0.0 if box is None else float(mask[box].mean()) / 255.0


def crop_mask(mask: np.ndarray) -> np.ndarray:
    """The tight bounding box of the ink (the whole mask if there is none)."""
    box = _ink_bbox(mask)
    return mask if box is None else mask[box]


def _fit_height(mask: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Resize the ink to the output height (aspect kept) and add a few pixels of margin."""
    top, bottom = (int(v) for v in rng.integers(*MARGIN_Y, size=2))
    left, right = (int(v) for v in rng.integers(*MARGIN_X, size=2))
    inner_h = max(height - top - bottom, 1)
    h, w = mask.shape
    inner_w = max(int(round(w * inner_h / h)), 1)
    interp = cv2.INTER_AREA if inner_h < h else cv2.INTER_LINEAR
    resized = cv2.resize(mask, (inner_w, inner_h), interpolation=interp)
    return cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)


def ink_on_paper(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Compose dark ink on light paper, with optional shading, blur and sensor noise."""
    paper = rng.uniform(*PAPER_LEVEL)
    ink = rng.uniform(*INK_LEVEL)
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    image = paper + (ink - paper) * alpha
    if rng.random() < 0.3:
        shade = rng.uniform(-12.0, 12.0)
        image += np.linspace(-shade, shade, image.shape[1], dtype=np.float32)[None, :]
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.3, 0.9))
    if rng.random() < 0.6:
        image += rng.standard_normal(image.shape, dtype=np.float32) * rng.uniform(1.0, 6.0)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def render_word(text: str, font: FontInfo, rng: np.random.Generator, height: int = 64) -> np.ndarray:
    """Render `text` as a handwritten-looking word image: uint8 grayscale, dark ink, exactly `height` tall.

    Random font size, slant, rotation, stroke width, ink/paper levels, blur and noise; the image is
    cropped to the ink and resized keeping the aspect ratio. All randomness comes from `rng`.
    """
    if not text:
        raise ValueError("render_word needs a non-empty text")
    path = str(font.path)
    size = font_size_for(text, path, height * rng.uniform(*RENDER_SCALE))
    mask = draw_text(text, path, size)
    mask = warp(mask, shear=rng.uniform(-SHEAR, SHEAR), angle_deg=rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    mask = _vary_stroke(mask, rng)
    mask = _fit_height(crop_mask(mask), height, rng)
    return ink_on_paper(mask, rng)
