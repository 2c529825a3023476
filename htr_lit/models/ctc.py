"""CTC loss as a thin module: blank 0, zero_infinity, mean over the batch of per-sample sums."""

from __future__ import annotations

import torch
from torch import nn


class CTCLoss(nn.Module):
    def __init__(self, blank: int = 0) -> None:
        super().__init__()
        self.loss = nn.CTCLoss(blank=blank, reduction="sum", zero_infinity=True)

    def forward(
        self, log_probs: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor
    ) -> torch.Tensor:
        # log_probs: (B, T, C) -> nn.CTCLoss wants (T, B, C) in float32
        lp = log_probs.transpose(0, 1).float()
        return self.loss(lp, targets, lengths, target_lengths) / log_probs.shape[0]
