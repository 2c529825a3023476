"""The PyTorch backend: the checkpoint's own `HTRModule` under inference mode."""

from __future__ import annotations

import torch

from htr_lit.models.module import HTRModule


class TorchBackend:
    name = "torch"
    batch_size = 32  # 2x the rate of batch 8 on the shipped recognizer (docs/performance.md)

    def __init__(self, model: HTRModule, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = device

    def run(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            return self.model(images.to(self.device), widths.to(self.device))  # (B, T, C), (B,)
