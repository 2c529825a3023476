"""Speed figures recorded per job: images seen per training second, images per second at inference."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
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


def timed_runs(fn: Callable[[], object], calls: int = 1, repeats: int = 5, warmup: int = 1,
               sync: Callable[[], object] = lambda: None) -> list[float]:
    """Wall seconds of `calls` calls of `fn`, once per repeat, after `warmup` untimed calls: the one timing loop
    of the suite's speed figures. `sync` waits for the device (e.g. `torch.cuda.synchronize`) around the clock."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def _median_seconds(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> float:
    """Median wall time of `fn()` over `repeats` calls after `warmup` untimed ones (CUDA synchronised)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    return statistics.median(timed_runs(fn, 1, repeats, warmup, sync))


@torch.inference_mode()
def inference_images_per_s(model: nn.Module, images: torch.Tensor, widths: torch.Tensor,
                           repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Images/s of one batch through the whole model and through the part after the CNN only.

    images (B, 1, H, W), widths (B,): the HTRModule's `forward(images, widths)`. "model" times the full
    forward; "sequence" times sequence model + head on the encoder's precomputed features (what
    replacing the LSTM can speed up). Median of `repeats` timed passes, in eval mode, on the model's device.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    images, widths = images.to(device), widths.to(device)
    try:
        full = _median_seconds(lambda: model(images, widths), device, repeats, warmup)
        feats, lengths = model.encoder(images, widths)  # (B, C', H', T)
        seq = _median_seconds(lambda: model.head(model.sequence(feats, lengths)[0]), device, repeats, warmup)
    finally:
        model.train(was_training)
    return {"model": len(images) / full, "sequence": len(images) / seq}
