"""Speed figures recorded per job: images seen per training second, images per second at inference."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from htr_lit.data.collate import collate


class ImageCounter(L.Callback):
    """Counts the training images the model has seen (for `throughput/train_img_s`)."""

    def __init__(self) -> None:
        self.images = 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: dict[str, Any], batch_idx: int) -> None:
        self.images += len(batch["images"])


def inference_batch(dataset: Sequence[dict[str, Any]], batch_size: int = 64) -> dict[str, Any]:
    """The first `batch_size` items of a dataset (cycled if it is smaller), collated as in evaluation."""
    if len(dataset) == 0:
        raise ValueError("inference_batch: empty dataset")
    return collate([dataset[i % len(dataset)] for i in range(batch_size)])


@torch.inference_mode()
def inference_images_per_s(model: nn.Module, images: torch.Tensor, widths: torch.Tensor,
                           repeats: int = 5, warmup: int = 1) -> float:
    """Median images/s over `repeats` timed forward passes of one batch (after `warmup` untimed ones).

    images (B, 1, H, W), widths (B,): the model's `forward(images, widths)`; on its own device.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    images, widths = images.to(device), widths.to(device)
    try:
        for _ in range(warmup):
            model(images, widths)
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(images, widths)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return len(images) / statistics.median(times)
