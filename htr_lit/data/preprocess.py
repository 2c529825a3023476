"""Image preprocessing shared by training, eval, predict and export: grayscale, optional clean-up of real
scans (crop to the ink, contrast stretch, deslant), fixed height, capped width."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from htr_lit.data import ink
from htr_lit.errors import ConfigError, UserError

# Refuse to decode images larger than this many pixels (decompression bombs, scanner pages).
MAX_DECODE_PIXELS = 40_000_000
# Height gain above which the resize is Lanczos instead of bilinear: a word that small is a low-resolution image
# (a thumbnail, a downscaled scan), and bilinear upscaling smears its strokes. Training images stay below it
# (DHSD crops: 99 % at most 3.6x, synthetic renders: 99.9 % at most 2.9x). Chosen on one writer fold and checked
# on two others (`python -m htr_lit.measuring.check_robustness --lowres-ckpt`): scans read as before, half and
# third resolution better.
SHARP_UPSCALE = 3.0
EXIF_ORIENTATION = 0x0112  # the EXIF tag a camera writes when the picture is to be shown rotated


class ImageLoadError(UserError, ValueError):
    """An image that cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Preprocess:
    """Settings stored in every checkpoint so inference preprocesses exactly like training."""

    img_height: int = 64
    max_width: int = 1024
    min_width: int = 16
    # Real-scan clean-up, applied before the height is normalised (all off in checkpoints made before it).
    crop_ink: bool = False  # crop to the ink box (robust threshold, specks and form rules ignored)
    crop_margin: float = 0.08  # margin kept around the ink box, as a share of its height
    contrast: bool = False  # stretch: darkest ink (5th percentile) to black, median paper to white
    deslant: bool = False  # undo the slant of the writing (shear that makes strokes most vertical)

    def to_dict(self) -> dict[str, int | float | bool]:
        return asdict(self)

    def load(self, path: str | Path) -> np.ndarray:
        """Read an image file -> uint8 (img_height, W) array, dark ink on light paper (a two-level image is
        blurred by 1 px, a light-on-dark one inverted, then uneven lighting is divided out; all three a no-op
        on every DHSD scan and synthetic image)."""
        return self.normalize(self.clean(self.paper(path)))

    def paper(self, path: str | Path) -> np.ndarray:
        """The image as `load` reads it before the word steps (clean, normalize): uint8 (H, W) at its own size,
        dark ink on evenly lit light paper. What predict looks for text lines in (htr_lit/data/layout.py)."""
        gray = ink.soften_bitonal(read_gray(path))
        if ink.paper_is_dark(gray):
            gray = 255 - gray
        return ink.flatten_paper(gray)

    def clean(self, img: np.ndarray) -> np.ndarray:
        """The real-scan steps that are switched on, in order: contrast, deslant, crop to the ink. An image
        without trustworthy ink (blank, all ink) comes back unchanged, so it stays a valid input."""
        if self.contrast:
            img = ink.normalize_contrast(img)
        if self.deslant:
            img = ink.deslant(img)
        if self.crop_ink:
            img = ink.crop_to_ink(img, margin=float(self.crop_margin))
        return img

    def normalize(self, img: np.ndarray) -> np.ndarray:
        """Resize to `img_height` keeping the aspect ratio, clamp the width to [min_width, max_width]. Area
        averaging shrinks, bilinear enlarges, Lanczos enlarges more than SHARP_UPSCALE times."""
        h, w = img.shape
        new_w = round(w * self.img_height / h)
        new_w = min(max(new_w, self.min_width), self.max_width)
        if h > self.img_height:
            interp = cv2.INTER_AREA
        else:
            interp = cv2.INTER_LANCZOS4 if self.img_height > SHARP_UPSCALE * h else cv2.INTER_LINEAR
        return cv2.resize(img, (new_w, self.img_height), interpolation=interp)


def reading_preprocess(pre: Preprocess, max_width: int | None) -> Preprocess:
    """The checkpoint's preprocessing with the width cap of predict and eval (their `max_width` key): the
    model reads any width, and training's cap (`pre.max_width`, for memory) would squeeze a text line wider than
    it. None keeps the checkpoint's cap."""
    if max_width is None:
        return pre
    if int(max_width) < pre.min_width:
        raise ConfigError(f"max_width={max_width}: the widest image in pixels, at least the model's min_width "
                          f"({pre.min_width}); null: the checkpoint's ({pre.max_width})")
    return replace(pre, max_width=int(max_width))


def read_gray(path: str | Path) -> np.ndarray:
    """Decode an image as 8-bit grayscale; raises ImageLoadError naming the file and the reason."""
    try:
        if Path(path).stat().st_size == 0:
            raise ImageLoadError(f"{path}: empty file (0 bytes)")
        with Image.open(path) as im:
            if im.width * im.height > MAX_DECODE_PIXELS:
                raise ImageLoadError(f"{path}: image is {im.width}x{im.height}, over the {MAX_DECODE_PIXELS} pixel cap")
            if im.width < 2 or im.height < 2:
                raise ImageLoadError(f"{path}: image is {im.width}x{im.height} pixels, too small to read")
            im = _upright(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                im = _flatten_alpha(im)
            arr = _gray_uint8(im)
    except FileNotFoundError as e:
        raise ImageLoadError(f"{path}: file not found") from e
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as e:  # Pillow refuses before our own check can run (~179 MP and up)
        raise ImageLoadError(f"{path}: image is over the {MAX_DECODE_PIXELS} pixel cap ({e})") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(f"{path}: cannot decode image ({e})") from e
    return arr


def _upright(im: Image.Image) -> Image.Image:
    """Apply an EXIF orientation tag (phone and camera JPEGs: upright as a viewer shows them); a broken
    EXIF block leaves the pixels as stored rather than rejecting a readable image."""
    try:
        if im.getexif().get(EXIF_ORIENTATION, 1) in (None, 1):
            return im  # upright already (most files): no transposed copy
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - malformed metadata is not a reason to refuse the pixels
        return im


def _gray_uint8(im: Image.Image) -> np.ndarray:
    """Grayscale uint8 (H, W) of any Pillow mode. 16-bit and 32-bit scans are scaled down to 8 bits
    (Pillow's convert("L") clips them, which turns a 16-bit scan into blank paper); float images are read
    as 0..1 when their maximum is at most 1, else as 0..255 (0..65535 above 255); a pixel without a value
    (NaN, infinite: a float export's no-data) reads as 0."""
    if im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    values = np.asarray(im, dtype=np.float64)
    values = np.where(np.isfinite(values), values, 0.0)  # (H, W)
    top = float(values.max(initial=0.0))
    if im.mode.startswith("I;16") or top > 255:
        full_scale = 65535.0
    elif im.mode == "F" and top <= 1.0:
        full_scale = 1.0
    else:
        full_scale = 255.0
    return np.clip(np.rint(values * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite a transparent image onto white paper."""
    rgba = im.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(paper, rgba)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) paper-white image -> float (1, H, W) with ink high and paper 0 (so padding is paper)."""
    return torch.from_numpy(255 - img).float().div_(255.0).unsqueeze(0)
