"""WordDataset: samples -> preprocessed image tensors and encoded targets, decoded once and cached."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from htr_lit.charset import Charset
from htr_lit.data.preprocess import ImageLoadError, Preprocess, to_tensor
from htr_lit.data.sample import Sample


def load_images(
    samples: Sequence[Sample], preprocess: Preprocess, num_threads: int = 4
) -> tuple[list[np.ndarray | None], list[str]]:
    """Decode + normalise every image once. Returns the arrays (None where unreadable) and one
    error line per unreadable file, so a caller can report all of them at once."""

    def load(s: Sample) -> np.ndarray | str:
        try:
            return preprocess.load(s.path)
        except ImageLoadError as e:
            return f"{s.origin or s.path}: {e}"

    with ThreadPoolExecutor(num_threads) as pool:  # PIL/cv2 release the GIL while decoding
        results = list(pool.map(load, samples))
    errors = [r for r in results if isinstance(r, str)]
    return [None if isinstance(r, str) else r for r in results], errors


class WordDataset(Dataset):
    """Word images held height-normalised in memory (uint8): a 64 px high word is ~15 kB, so 100k
    images take ~1.5 GB, and worker processes share them copy-on-write. With `images=None` each
    item is decoded on access instead."""

    def __init__(
        self,
        samples: Sequence[Sample],
        charset: Charset,
        preprocess: Preprocess,
        augment: Callable[[np.ndarray], np.ndarray] | None = None,
        images: Sequence[np.ndarray] | None = None,
    ) -> None:
        if images is not None and len(images) != len(samples):
            raise ValueError("images and samples differ in length")
        self.samples = list(samples)
        self.charset = charset
        self.preprocess = preprocess
        self.augment = augment
        self.images = list(images) if images is not None else None

    @property
    def widths(self) -> list[int]:
        """Normalised image widths (before augmentation); drives bucketing and CTC checks."""
        if self.images is None:
            raise RuntimeError("widths need the cached images")
        return [im.shape[1] for im in self.images]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.samples[i]
        img = self.images[i] if self.images is not None else self.preprocess.load(s.path)
        if self.augment is not None:
            img = self.preprocess.normalize(self.augment(img))
        return {
            "image": to_tensor(img),
            "target": self.charset.encode(s.text),
            "text": s.text,
            "id": s.origin or str(s.path),
        }
