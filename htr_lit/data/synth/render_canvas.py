"""Rendering a target-like synthetic image: a name written on a fixed canvas, as real form scans look.

Real word scans (DHSD: 256 x 64 canvases) differ from tight word crops: the ink fills 30-100 % of the
height at a random position with wide blank margins, long names are squeezed to fit, strokes range from
thin pen lines to bold marker, a few names run off the right edge, and the paper carries ruling lines,
specks and scan noise. `render_canvas` draws exactly that; all randomness comes from the generator.
"""

from __future__ import annotations

import cv2
import numpy as np

from htr_lit.data.synth.fonts import FontInfo
from htr_lit.data.synth.render import ROTATION_DEG, SHEAR, crop_mask, draw_text, font_size_for, ink_on_paper, warp

DRAW_HEIGHT = 56  # ink height (px) at which the text is drawn before it is scaled onto the canvas
FILL = (0.3, 1.0)  # ink height / canvas height
SQUEEZE = (0.6, 1.15)  # horizontal scale of the ink (handwriting is often narrower than the font)
STROKE_KERNELS = (-3, -2, -2, 0, 0, 0, 2, 3, 4)  # < 0: erode (thin pen), > 0: dilate (bold), at DRAW_HEIGHT
CLIP_P = 0.05  # the name runs off the canvas edge (up to CLIP_MAX of the canvas width is cut)
CLIP_MAX = 0.06
RULE_P = 0.15  # a faint ruling line across the canvas
SPECK_P = 0.2  # a few dots of dirt
EDGE_STROKE_P = 0.05  # a dark vertical line at a side (the edge of a form field)


def _stroke(mask: np.ndarray, k: int) -> np.ndarray:
    """Thin (k < 0) or thicken (k > 0) the strokes with a k x k ellipse; thinning that would erase
    more than half of the ink is skipped."""
    if k == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (abs(k), abs(k)))
    if k > 0:
        return cv2.dilate(mask, kernel)
    thinner = cv2.erode(mask, kernel)
    return thinner if int(thinner.sum()) >= 0.5 * int(mask.sum()) else mask


def _place(ink: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Scale the tight ink mask to a random fill of the canvas height, squeeze it to fit the width
    (sometimes letting it run a little past an edge) and put it at a random position."""
    h, w = ink.shape
    ink_h = max(4, int(round(rng.uniform(*FILL) * height)))
    ink_w = max(1, int(round(w * ink_h / h * rng.uniform(*SQUEEZE))))
    margin = int(rng.integers(1, 8))
    clipped = rng.random() < CLIP_P
    room = int(width * (1 + rng.uniform(0.01, CLIP_MAX))) if clipped else width - margin
    if ink_w > room:  # a long name is squeezed to fit, as writers do
        ink_w = room
    resized = cv2.resize(ink, (ink_w, ink_h), interpolation=cv2.INTER_AREA)  # (ink_h, ink_w)
    canvas = np.zeros((height, width), np.uint8)
    y = int(rng.integers(0, height - ink_h + 1))
    overhang = ink_w - width  # > 0 only for a clipped name: the ink columns that do not fit on the canvas
    if overhang > 0:  # cut at the right edge, the left edge or both (x from -overhang to 0)
        x = -overhang + int(rng.integers(0, overhang + 1))
    elif ink_w > width - margin:  # no room for the margin: flush with the right edge
        x = width - ink_w
    else:  # a margin, then a random start that is mostly near the left
        x = margin + int(rng.integers(0, width - margin - ink_w + 1) * rng.random() ** 1.5)
    x0, x1 = max(x, 0), min(x + ink_w, width)
    canvas[y : y + ink_h, x0:x1] = resized[:, x0 - x : x1 - x]
    return canvas


def _scan_marks(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Faint ruling lines, specks and a form-field edge, drawn into the ink mask (uint8, 255 = ink)."""
    height, width = canvas.shape
    if rng.random() < RULE_P:
        y = int(rng.integers(height // 2, height))
        cv2.line(canvas, (0, y), (width - 1, y + int(rng.integers(-2, 3))), int(rng.integers(40, 140)), 1)
    if rng.random() < SPECK_P:
        for _ in range(int(rng.integers(1, 6))):
            cv2.circle(canvas, (int(rng.integers(width)), int(rng.integers(height))), int(rng.integers(0, 2)),
                       int(rng.integers(80, 255)), -1)
    if rng.random() < EDGE_STROKE_P:
        x = int(rng.integers(0, 4)) if rng.random() < 0.5 else width - 1 - int(rng.integers(0, 4))
        cv2.line(canvas, (x, int(rng.integers(0, height // 3))), (x, height - 1), 255, int(rng.integers(1, 3)))
    return canvas


def render_canvas(text: str, font: FontInfo, rng: np.random.Generator, height: int = 64,
                  width: int = 256) -> np.ndarray:
    """`text` handwritten on a `height` x `width` canvas: uint8 grayscale, dark ink on light paper."""
    if not text.strip():
        raise ValueError("render_canvas needs a non-blank text")
    path = str(font.path)
    size = font_size_for(text, path, DRAW_HEIGHT * rng.uniform(0.85, 1.15))
    mask = draw_text(text, path, size)
    mask = _stroke(mask, int(rng.choice(STROKE_KERNELS)))
    mask = warp(mask, shear=rng.uniform(-SHEAR, SHEAR), angle_deg=rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    canvas = _place(crop_mask(mask), height, width, rng)  # (height, width)
    return ink_on_paper(_scan_marks(canvas, rng), rng)
