"""TCN: depthwise-separable dilated 1-D residual blocks over the columns (TCN / Conv-TasNet style).

Why this and not a gated FCN (GLU convs): a depthwise-separable layer costs C*k + C*C weights instead
of 2*C*C*k for a gated one, so a long receptive field (61 frames by default) stays cheap on a CPU, and
residual + norm train stably without gates; the 2-D variant is already covered by `dilated`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from htr_lit.models.receptive_field import conv_stack_rf
from htr_lit.models.sequence.common import check_conv_args, keep_mask, make_activation, make_norm


class SeparableBlock(nn.Module):
    """x + dropout(pointwise(act(norm(depthwise_dilated(x))))), non-causal 'same' padding."""

    def __init__(
        self, channels: int, kernel_size: int, rate: int, norm: str, activation: str, dropout: float
    ) -> None:
        super().__init__()
        pad = rate * (kernel_size - 1) // 2
        self.depthwise = nn.Conv1d(  # no bias right before BatchNorm: it would get no gradient
            channels, channels, kernel_size, padding=pad, dilation=rate, groups=channels, bias=norm != "batch"
        )
        self.norm = make_norm(norm, channels, "1d")
        self.act = make_activation(activation)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(x.masked_fill(~keep, 0))  # (B, C, T); padding zeroed so it cannot leak in
        return x + self.dropout(self.pointwise(self.act(self.norm(y))))  # (B, C, T) residual


class TCN(nn.Module):
    """Collapse height, 1x1 projection to `channels` (if they differ), then num_blocks x len(rates) blocks."""

    def __init__(
        self,
        in_channels: int,
        in_height: int,
        channels: int = 256,
        rates: Sequence[int] = (1, 2, 4, 8),
        num_blocks: int = 2,
        kernel_size: int = 3,
        norm: str = "batch",
        activation: str = "relu",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        check_conv_args("tcn", rates, num_blocks, kernel_size, norm, activation, dropout)
        self.rates, self.kernel_size, self.num_blocks = [int(r) for r in rates], kernel_size, num_blocks
        self.channels = channels
        in_features = in_channels * in_height
        # 1x1 projection to the residual stream's width, only when they differ.
        same = in_features == channels
        self.proj = nn.Identity() if same else nn.Conv1d(in_features, channels, 1, bias=False)
        self.blocks = nn.ModuleList(
            SeparableBlock(channels, kernel_size, r, norm, activation, dropout)
            for _ in range(num_blocks)
            for r in self.rates
        )

    def output_size(self) -> int:
        return self.channels

    def receptive_field_frames(self) -> int:
        return conv_stack_rf([self.kernel_size] * len(self.blocks), self.rates * self.num_blocks)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.flatten(1, 2)  # (B, C*H, T), same feature order as collapse_height
        keep = keep_mask(lengths.to(x.device), x.shape[-1], 3)  # (B, 1, T)
        x = self.proj(x)  # (B, channels, T)
        for block in self.blocks:
            x = block(x, keep)  # (B, channels, T)
        return x.masked_fill(~keep, 0).transpose(1, 2), lengths  # (B, T, channels)
