"""Batching: pad each batch to its widest image and concatenate the CTC targets."""

from __future__ import annotations

from typing import Any

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
