"""Batching: pad each batch to its widest image (training items: `collate`, also concatenating the CTC targets;
images read for inference: `pad_batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """items from WordDataset -> images (B, 1, H, W_max) padded with paper (0), widths, flat targets."""
    widths = torch.tensor([it["image"].shape[-1] for it in items])
    H = items[0]["image"].shape[-2]
    images = torch.zeros(len(items), 1, H, int(widths.max()))
    for i, it in enumerate(items):
        images[i, :, :, : it["image"].shape[-1]] = it["image"]
    target_lengths = torch.tensor([len(it["target"]) for it in items])
    targets = torch.tensor([c for it in items for c in it["target"]], dtype=torch.long)
    return {
        "images": images,  # (B, 1, H, W_max)
        "widths": widths,  # (B,)
        "targets": targets,  # (sum of target_lengths,)
        "target_lengths": target_lengths,  # (B,)
        "texts": [it["text"] for it in items],
        "ids": [it["id"] for it in items],
    }


def pad_batch(images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (H, W_i) paper-white images -> float32 (B, 1, H, W_max) with ink 1 and paper / padding 0, widths (B,).
    The same values as `to_tensor` + `collate`, built in one array without a tensor per image."""
    widths = np.array([im.shape[1] for im in images], dtype=np.int64)
    batch = np.zeros((len(images), 1, images[0].shape[0], int(widths.max())), dtype=np.float32)  # (B, 1, H, W)
    for i, im in enumerate(images):
        np.subtract(255, im, out=batch[i, 0, :, : im.shape[1]], dtype=np.float32)
    batch /= 255.0
    return torch.from_numpy(batch), torch.from_numpy(widths)
