"""Auxiliary CTC shortcut head on the CNN features (Retsinas et al. 2022, "Best practices for a handwritten
text recognition system"): its own CTC loss gives the CNN a direct training signal. Training only: it is
neither decoded nor exported."""

from __future__ import annotations

import torch
from torch import nn


class CTCShortcut(nn.Module):
    """Max over the feature height, then one 1-D conv along the columns -> per-frame log-probs.

    Frames past each image's width are zeros in the encoder output, so the conv's zero padding sees at
    the end of a short image what it sees at the end of a lone one (the batch does not matter).
    """

    def __init__(self, in_channels: int, num_classes: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"shortcut: kernel_size must be odd and positive (keeps one output per frame), got {kernel_size}"
            )
        self.conv = nn.Conv1d(in_channels, num_classes, kernel_size, padding=kernel_size // 2)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.amax(dim=2)  # (B, C, H, T) -> (B, C, T)
        logits = self.conv(x).transpose(1, 2)  # (B, T, num_classes)
        return logits.float().log_softmax(dim=-1)
