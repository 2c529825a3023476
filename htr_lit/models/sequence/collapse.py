"""The control: no sequence model at all; the CNN's columns, their height collapsed, go straight to the head
(`model/sequence=cnn_only`)."""

from __future__ import annotations

import torch
from torch import nn

from htr_lit.models.sequence.common import collapse_height, keep_mask


class CollapseHeight(nn.Module):
    """Collapse the height (one C*H vector per column) and optionally drop out; no parameters.

    Tells how much of the CER the sequence model buys over the CNN's own receptive field.
    """

    def __init__(self, in_channels: int, in_height: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = in_channels * in_height
        self.dropout = nn.Dropout(dropout)

    def output_size(self) -> int:
        return self.features

    def receptive_field_frames(self) -> int:
        return 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = keep_mask(lengths.to(x.device), x.shape[-1], 3).transpose(1, 2)  # (B, T, 1)
        y = self.dropout(collapse_height(x)).masked_fill(~keep, 0)  # (B, T, C*H), zero past lengths as BiLSTM
        return y, lengths
