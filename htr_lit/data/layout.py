"""Text lines in an image that holds more than one: a horizontal projection profile of the ink.

The recognizers read one word or one line. A small "page" (form fields or words stacked one above the other)
read as one word comes out as one wrong short word, so predict first looks for the text lines in each input
(`text_lines`) and reads every line on its own. The profile is enough for form-like scans, where lines are
separated by rows with (almost) no ink; touching or skewed lines stay one line.
"""

from __future__ import annotations

import cv2
import numpy as np

from htr_lit.data import ink

MIN_ROW_INK = 0.02  # a row with less ink than this share of the inkiest row's belongs to a gap between lines
MIN_GAP = 0.5  # blank rows between two ink bands, as a share of the line height, that separate two lines
MIN_LINE = 0.35  # an ink band lower than this share of the line height is a mark of a line (dots, a tail)
MIN_LINE_PX = 10  # nor is a band lower than this (px) a line of its own: faint pencil breaks a word's profile


def ink_rows(gray: np.ndarray) -> np.ndarray:
    """Ink pixels per row (H,): Otsu's threshold over the image (a speck makes a low band, joined to a line)."""
    _, mask = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)  # 1 = ink, dark on light
    return mask.sum(axis=1).astype(np.int64)


def _bands(profile: np.ndarray) -> list[tuple[int, int]]:
    """Runs [top, bottom) of rows with ink above MIN_ROW_INK of the inkiest row."""
    rows = profile > max(1.0, MIN_ROW_INK * float(profile.max()))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def text_lines(gray: np.ndarray) -> list[tuple[int, int]]:
    """The text lines of a grayscale image (dark ink on light paper) as row ranges [top, bottom), top to bottom;
    [] for a blank image, one range for a single word or line. Bands of ink closer than MIN_GAP of the line
    height (the bands' ink-weighted median height) are one line (an umlaut's dots over its letters); a band
    lower than MIN_LINE of the line height (or than MIN_LINE_PX) is joined to its nearer neighbour (a tail below
    the line, a dot above it, a faint stroke)."""
    if ink.is_blank(gray):
        return []
    profile = ink_rows(gray)
    bands = _bands(profile)
    if len(bands) <= 1:
        return bands
    # the height of a line: the bands' median height, each band weighted by its ink (a dot weighs little)
    heights = np.array([b - t for t, b in bands], dtype=float)
    mass = np.array([profile[t:b].sum() for t, b in bands], dtype=float)
    order = np.argsort(heights)
    line_height = heights[order][np.searchsorted(np.cumsum(mass[order]), mass.sum() / 2)]
    merged = [bands[0]]
    for top, bottom in bands[1:]:
        if top - merged[-1][1] < MIN_GAP * line_height:
            merged[-1] = (merged[-1][0], bottom)
        else:
            merged.append((top, bottom))
    while len(merged) > 1:
        low = [i for i, (t, b) in enumerate(merged) if b - t < max(MIN_LINE * line_height, MIN_LINE_PX)]
        if not low:
            break
        i = low[0]
        gaps = [merged[i][0] - merged[i - 1][1] if i > 0 else None,
                merged[i + 1][0] - merged[i][1] if i + 1 < len(merged) else None]
        j = i - 1 if gaps[1] is None or (gaps[0] is not None and gaps[0] <= gaps[1]) else i + 1
        a, b = sorted((i, j))
        merged[a : b + 1] = [(merged[a][0], merged[b][1])]
    return merged


def cut_lines(gray: np.ndarray, lines: list[tuple[int, int]]) -> list[np.ndarray]:
    """Each line's rows with half the gap to its neighbours as margin (the recognizers read words on paper)."""
    out = []
    for i, (top, bottom) in enumerate(lines):
        above = lines[i - 1][1] if i > 0 else 0
        below = lines[i + 1][0] if i + 1 < len(lines) else gray.shape[0]
        out.append(gray[(top + above) // 2 if i > 0 else 0 : (bottom + below + 1) // 2 if i + 1 < len(lines)
                        else gray.shape[0]])
    return out
