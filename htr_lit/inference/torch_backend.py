"""The PyTorch backend: the checkpoint's own `HTRModule` under inference mode."""

from __future__ import annotations

import torch

from htr_lit.models.module import HTRModule


class TorchBackend:
    name = "torch"
    # End to end on both shipped recognizers, batch 16 read 1.27x batch 32 (compact) and 1.05x (separable)
    # (`python -m htr_lit.measuring.bench_predict --batch-size 16|32`, 2026-12-06): the activations of 16 images
    # stay in the caches.
    batch_size = 16

    def __init__(self, model: HTRModule, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = device

    def run(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            return self.model(images.to(self.device), widths.to(self.device))  # (B, T, C), (B,)
