"""Find the handwriting in a scanned word image: ink threshold, ink box, crop, deslant, contrast stretch,
uneven lighting flattened.

Real scans (DHSD: 256x64 canvases) carry the word in a band a third of the height tall with wide blank
margins; cropping to the ink before height normalisation makes the strokes two to three times taller.
Everything here takes a grayscale uint8 image (H, W), dark ink on light paper, and never fails on blank,
all-ink or near-empty images: without trustworthy ink the image is returned unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_CONTRAST = (
    20  # grey levels between mean ink and mean paper below which Otsu is not trusted (DHSD pencil: ~30)
)
MIN_AREA = 3  # connected ink components smaller than this (pixels) are specks, not writing
MAX_INK_SHARE = 0.6  # more "ink" than this share of the image: not a word on paper
RULE_SPAN = (0.8, 0.5)  # straight vertical / horizontal runs this long (share of H / W) are form rules
MAX_SHADING = 48  # paper brightness range (grey levels) left alone; above it (a photo's shadow) it is divided out
FLAT = 0.1  # ink flatter than this share of the height is a dark line, not writing (DHSD words: >= 15 px of 64)
BITONAL_SIGMA = 1.0  # Gaussian blur (px) that gives a two-level (binarised or dithered) scan its grey stroke edges back


def is_blank(gray: np.ndarray, min_contrast: float = MIN_CONTRAST) -> bool:
    """Nothing written: every pixel within `min_contrast` grey levels of every other (white, black or
    uniform grey paper). Faint writing on noisy paper is not blank, and neither are specks or scan noise."""
    return gray.size == 0 or int(gray.max()) - int(gray.min()) < min_contrast


def paper_is_dark(gray: np.ndarray, min_contrast: float = MIN_CONTRAST) -> bool:
    """Light writing on dark paper (a negative, chalk on a board): more than MAX_INK_SHARE of the pixels
    lie on the dark side of Otsu's threshold (no DHSD scan does: tests/test_ink.py)."""
    if is_blank(gray, min_contrast):
        return False
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float((gray <= threshold).mean()) > MAX_INK_SHARE


def paper_brightness(gray: np.ndarray) -> np.ndarray:
    """The paper's grey level under every pixel (H, W) uint8: a morphological closing wider than any pen
    stroke (a third of the shorter side, at least 15 px) erases the ink and keeps the paper's shading and
    its edges (a max filter alone would spread a bright patch over its darker surround)."""
    k = max(15, (min(gray.shape) // 3) | 1)
    return cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))


def flatten_paper(gray: np.ndarray, max_shading: int = MAX_SHADING) -> np.ndarray:
    """Divide out uneven lighting (a phone photo's shadow, a dark scanner edge) when the paper's brightness
    varies by more than `max_shading` grey levels across the image: each pixel over its paper's brightness,
    so the paper turns white and the ink keeps its contrast to it. Evenly lit images come back unchanged
    (every DHSD scan varies by at most 3 levels, 99.9 % of 20,000 synthetic renders by at most 44:
    `python -m htr_lit.measuring.check_robustness`; tests/test_ink.py checks the DHSD scans)."""
    if is_blank(gray):
        return gray
    paper = paper_brightness(gray)
    low, high = cv2.minMaxLoc(paper)[:2]
    if high - low <= max_shading:
        return gray
    flat = gray.astype(np.float32) * (255.0 / np.maximum(paper, 1).astype(np.float32))
    return np.clip(flat, 0, 255).astype(np.uint8)


def is_bitonal(gray: np.ndarray) -> bool:
    """Exactly two grey levels: a binarised scan (fax, bitonal TIFF, a thresholded export) or a dithered one."""
    return int(np.count_nonzero(np.bincount(gray.ravel(), minlength=256))) == 2


def soften_bitonal(gray: np.ndarray, sigma: float = BITONAL_SIGMA) -> np.ndarray:
    """A two-level image blurred by `sigma` px, other images unchanged. Scanners and photos give grey stroke
    edges, which is all the recognizers were trained on; a dithered scan's scattered dots become strokes again.
    `python -m htr_lit.measuring.check_robustness` (shipped recognizer, 60 DHSD words of 5 writers): Floyd-Steinberg
    dithered 83.9 -> 6.8 % CER, Otsu-binarised 8.0 -> 6.6 %, the grey scans 3.8 %."""
    if not is_bitonal(gray):
        return gray
    return cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)


def ink_threshold(gray: np.ndarray, min_contrast: float = MIN_CONTRAST) -> float | None:
    """Otsu's threshold (ink <= t), or None when the image shows no real contrast (blank or all ink)."""
    if is_blank(gray, min_contrast):
        return None
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Counts and means of both classes from the grey-level histogram (one pass, no boolean masks).
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)  # (256,)
    cut = int(threshold) + 1  # ink: levels 0 .. threshold
    n_ink, n_paper = hist[:cut].sum(), hist[cut:].sum()
    if n_ink == 0 or n_paper == 0 or n_ink / gray.size > MAX_INK_SHARE:
        return None
    levels = np.arange(256, dtype=np.float64)
    ink_mean = float(hist[:cut] @ levels[:cut]) / n_ink
    paper_mean = float(hist[cut:] @ levels[cut:]) / n_paper
    if paper_mean - ink_mean < min_contrast:
        return None
    return float(threshold)


def _rules(ink: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/1: long straight vertical and horizontal runs of `ink`, grown by one pixel across."""
    height, width = ink.shape
    tall = max(2, int(RULE_SPAN[0] * height))
    wide = max(2, int(RULE_SPAN[1] * width))
    rules = np.zeros_like(ink)  # (H, W)
    # An opening keeps a pixel only inside a run of at least half its kernel's length (a whole one away from
    # the border, which counts as ink): a column or row with fewer ink pixels holds no rule, and the opening
    # is skipped (most words: the two openings cost as much as the rest of the crop).
    if int(ink.sum(axis=0).max()) >= tall // 2:
        vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((tall, 1), np.uint8))  # (H, W)
        rules |= cv2.dilate(vertical, np.ones((1, 3), np.uint8))
    if int(ink.sum(axis=1).max()) >= wide // 2:
        horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, wide), np.uint8))  # (H, W)
        rules |= cv2.dilate(horizontal, np.ones((3, 1), np.uint8))
    return rules


def _threshold_mask(
    gray: np.ndarray, min_contrast: float, min_area: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(mask, dark): the ink without rules and specks, and every pixel at or below the threshold
    (rules included); None without real ink."""
    threshold = ink_threshold(gray, min_contrast)
    if threshold is None:
        return None
    dark = (gray <= threshold).astype(np.uint8)  # (H, W)
    ink = dark.copy()
    ink[_rules(ink) > 0] = 0  # form rules are not writing
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area  # (count,)
    keep[0] = False  # label 0 is the paper
    return keep[labels], dark.astype(bool)  # (H, W) bool each


def ink_mask(
    gray: np.ndarray, min_contrast: float = MIN_CONTRAST, min_area: int = MIN_AREA
) -> np.ndarray | None:
    """(H, W) bool mask of the ink; None without real ink.

    Removed: form rules left by the scan (straight vertical runs >= 80% of the height, horizontal runs
    >= 50% of the width, and the pixel beside them), then specks (components < min_area px). When what
    is left is flatter than FLAT of the height, Otsu has split a dark line from faint (pencil) writing:
    the line is painted over with paper and the threshold found again, up to twice.
    """
    found = _threshold_mask(gray, min_contrast, min_area)
    flat = max(2, int(FLAT * gray.shape[0]))
    for _ in range(2):
        if found is None or _box_height(found[0]) >= flat:
            break
        cleaned = gray.copy()
        cleaned[found[1]] = int(np.median(gray))  # the dark line (and its remnants) becomes paper
        retry = _threshold_mask(cleaned, min_contrast, min_area)
        if retry is None or _box_height(retry[0]) <= _box_height(found[0]):
            break
        found = retry
    if found is None or not found[0].any():
        return None
    return found[0]


def _box_height(mask: np.ndarray) -> int:
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def ink_box(
    gray: np.ndarray, min_contrast: float = MIN_CONTRAST, min_area: int = MIN_AREA
) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1), end-exclusive, of the ink; None for a blank, all-ink or speck-only image."""
    mask = ink_mask(gray, min_contrast, min_area)
    if mask is None:
        return None
    rows = np.flatnonzero(mask.any(axis=1))  # (n_ink_rows,)
    cols = np.flatnonzero(mask.any(axis=0))  # (n_ink_cols,)
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_to_ink(
    gray: np.ndarray, margin: int | float = 2, min_contrast: float = MIN_CONTRAST, min_area: int = MIN_AREA
) -> np.ndarray:
    """The ink box plus `margin` (int: pixels; float: fraction of the box height), clipped to the image.

    Returns the image unchanged (same array) when it has no trustworthy ink.
    """
    box = ink_box(gray, min_contrast, min_area)
    if box is None:
        return gray
    y0, y1, x0, x1 = box
    pad = int(round(margin * (y1 - y0))) if isinstance(margin, float) else int(margin)
    height, width = gray.shape[:2]
    return gray[max(0, y0 - pad) : min(height, y1 + pad), max(0, x0 - pad) : min(width, x1 + pad)]


def normalize_contrast(gray: np.ndarray, ink_pct: float = 5.0, paper_pct: float = 50.0) -> np.ndarray:
    """Stretch so the ink's `ink_pct` percentile becomes 0 and the paper's median 255 (uint8, same shape).

    Percentiles are taken per class (Otsu split), so a word covering 2% of the image stretches as well as
    one covering 20%. Without real ink the image is returned unchanged.
    """
    threshold = ink_threshold(gray)
    if threshold is None:
        return gray
    ink = gray <= threshold
    black = float(np.percentile(gray[ink], ink_pct))
    white = float(np.percentile(gray[~ink], paper_pct))
    if white - black < 1:
        return gray
    out = (gray.astype(np.float32) - black) * (255.0 / (white - black))  # (H, W)
    return np.clip(out, 0, 255).astype(np.uint8)


def _shear(gray: np.ndarray, shear: float, fill: int = 255) -> np.ndarray:
    """x' = x + shear * (H - 1 - y): the bottom row stays, the top moves; widened so nothing is cut."""
    height, width = gray.shape
    extra = int(np.ceil(abs(shear) * (height - 1)))
    offset = extra if shear < 0 else 0
    matrix = np.float32([[1, shear, offset - shear * (height - 1)], [0, 1, 0]])
    return cv2.warpAffine(
        gray, matrix, (width + extra, height), flags=cv2.INTER_LINEAR, borderValue=fill
    )  # (H, W + extra)


def estimate_slant(gray: np.ndarray, shears: np.ndarray | None = None) -> float:
    """The shear (dx per row, upward) that makes strokes most vertical: max variance of column ink sums."""
    mask = ink_mask(gray)
    if mask is None:
        return 0.0
    shears = np.linspace(-0.7, 0.7, 15) if shears is None else shears  # about -35..35 degrees
    ink = mask.astype(np.uint8) * 255  # (H, W)
    best, best_score = 0.0, -1.0
    for shear in shears:
        columns = _shear(ink, float(shear), fill=0).sum(axis=0, dtype=np.float64)  # (W',)
        score = float((columns**2).sum())  # with constant total ink, max sum of squares = max variance
        if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and abs(shear) < abs(best)):
            best, best_score = float(shear), score
    return best


def deslant(gray: np.ndarray, shears: np.ndarray | None = None) -> np.ndarray:
    """Undo the slant found by estimate_slant (uint8 (H, W'), W' >= W; unchanged when upright or blank)."""
    shear = estimate_slant(gray, shears)
    if shear == 0.0:
        return gray
    paper = int(np.median(gray))
    return _shear(gray, shear, fill=paper)
