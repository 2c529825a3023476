"""Training-time augmentation presets built from albumentations (train split only)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import albumentations as A
import cv2
import numpy as np
import torch

PRESETS = ("none", "light", "strong", "handwriting", "handwriting_lowres")


def build_augment(preset: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return a function uint8 (H, W) -> uint8 (H, W), or None for `none`.

    Geometric transforms fill with white paper; the result is re-normalised to the input height later.
    """
    if preset not in PRESETS:
        raise ValueError(f"data.augment={preset!r} is not a preset; choose one of {', '.join(PRESETS)}")
    if preset == "none":
        return None
    paper = dict(border_mode=cv2.BORDER_CONSTANT, fill=255)
    light = [
        A.Affine(
            scale=(0.9, 1.05), rotate=(-2, 2), shear={"x": (-12, 12), "y": (0, 0)}, fit_output=True, p=0.6, **paper
        ),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.3, p=0.5),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.2),
    ]
    strong = [
        A.OneOf(
            [
                A.ElasticTransform(alpha=6, sigma=4, p=1.0, **paper),
                A.GridDistortion(num_steps=4, distort_limit=0.2, p=1.0, **paper),
            ],
            p=0.4,
        ),
        A.Morphological(scale=(2, 3), operation="erosion", p=0.15),
        A.Morphological(scale=(2, 3), operation="dilation", p=0.15),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5), p=1.0), A.MotionBlur(blur_limit=(3, 5), p=1.0)], p=0.25),
    ]
    # Real handwriting (writer cross-validation): what varies between writers on top of `light`'s slant,
    # size and contrast: character width, stroke shape, and pen width (about 1 px thinner or thicker).
    handwriting = [
        A.Affine(scale={"x": (0.8, 1.2), "y": (1.0, 1.0)}, fit_output=True, p=0.5, **paper),
        A.OneOf(
            [
                A.ElasticTransform(alpha=6, sigma=4, p=1.0, **paper),
                A.GridDistortion(num_steps=4, distort_limit=0.2, p=1.0, **paper),
            ],
            p=0.5,
        ),
        A.OneOf(
            [
                A.Morphological(scale=(2, 3), operation="erosion", p=1.0),
                A.Morphological(scale=(2, 3), operation="dilation", p=1.0),
            ],
            p=0.3,
        ),
        A.GaussianBlur(blur_limit=(3, 3), p=0.15),
    ]
    # Low-resolution scans (a phone photo from afar, a fax): `handwriting`, and sometimes the canvas is shrunk to
    # 30-60 % of its size and blown up again, so thin strokes blur and merge as in an image read at a third of its
    # resolution (htr_lit/measuring/check_robustness.py --lowres-ckpt measures that case).
    lowres = [
        A.Downscale(
            scale_range=(0.3, 0.6),
            interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR},
            p=0.25,
        )
    ]
    extra = {
        "light": [],
        "strong": strong,
        "handwriting": handwriting,
        "handwriting_lowres": handwriting + lowres,
    }[preset]
    pipeline = A.Compose(light + extra)
    return partial(_apply, pipeline)  # a partial, not a lambda: picklable for worker processes


def _apply(pipeline: A.Compose, img: np.ndarray) -> np.ndarray:
    # albumentations keeps its own RNG, which no global seed reaches: draw its seed from torch's RNG,
    # which seed_everything(workers=True) seeds (per DataLoader worker too), so a seeded run repeats.
    pipeline.set_random_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
    return pipeline(image=img)["image"]
