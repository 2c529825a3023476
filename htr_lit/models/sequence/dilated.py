"""Dilated convolutions instead of the LSTM: blocks of dilated convs over the CNN's feature map.

Reference design: blocks of three 3x3 convs with dilation 1, 2, 4 whose kernels are shared by every
block; the outputs of all layers are concatenated and collapsed to one feature vector per column.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from htr_lit.models.receptive_field import conv_stack_rf
from htr_lit.models.sequence.common import (
    check_conv_args,
    collapse_height,
    keep_mask,
    make_activation,
    make_norm,
)


class DilatedConv(nn.Module):
    """`num_blocks` blocks of dilated convs (one per rate); each layer: conv -> norm -> activation -> dropout.

    With `share_weights` every block reuses the same conv modules (weight tying): the stack has one
    block's conv parameters. Norms are per layer even then: BN statistics differ at each depth.
    Frames past `lengths` are zeroed before every conv, so 'same' padding sees zeros there exactly as
    at the end of an unpadded sequence: outputs do not depend on the batch's other widths (in eval).
    """

    def __init__(
        self,
        in_channels: int,
        in_height: int,
        rates: Sequence[int] = (1, 2, 4),
        num_blocks: int = 2,
        share_weights: bool = True,
        kernel_size: int = 3,
        channels: int = 128,
        concat: str = "all",
        norm: str = "batch",
        activation: str = "relu",
        dropout: float = 0.1,
        residual: bool = False,
        dims: str = "2d",
    ) -> None:
        super().__init__()
        check_conv_args("dilated", rates, num_blocks, kernel_size, norm, activation, dropout)
        if concat not in ("all", "last"):
            raise ValueError(f"dilated: concat must be 'all' or 'last', got {concat!r}")
        if dims not in ("2d", "1d"):
            raise ValueError(f"dilated: dims must be '2d' (Conv2d on the map) or '1d' (Conv1d), got {dims!r}")
        self.rates, self.kernel_size, self.num_blocks = [int(r) for r in rates], kernel_size, num_blocks
        self.channels, self.in_height, self.concat, self.dims = channels, in_height, concat, dims
        self.residual = residual
        Conv = nn.Conv2d if dims == "2d" else nn.Conv1d
        # 1d collapses the height first, so its input is a C*H vector per frame.
        in_features = in_channels if dims == "2d" else in_channels * in_height
        # 1x1 projection to the stack's width, only when they differ (no bias: linear change of basis).
        self.proj = Conv(in_features, channels, 1, bias=False) if in_features != channels else nn.Identity()

        # A conv bias is redundant right before BatchNorm (and would get no gradient).
        def conv(rate: int) -> nn.Module:
            pad = rate * (kernel_size - 1) // 2
            return Conv(channels, channels, kernel_size, padding=pad, dilation=rate, bias=norm != "batch")

        if share_weights:  # weight tying: every block is the *same* module instances (k1, k2, k4, k1, k2, k4)
            convs = [conv(r) for r in self.rates] * num_blocks
        else:
            convs = [conv(r) for _ in range(num_blocks) for r in self.rates]
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(make_norm(norm, channels, dims) for _ in convs)  # never shared
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(dropout)

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def output_size(self) -> int:
        layers = self.num_layers if self.concat == "all" else 1
        return self.channels * layers * (self.in_height if self.dims == "2d" else 1)

    def receptive_field_frames(self) -> int:
        """Frames of context one output frame sees (along the width for 2d)."""
        return conv_stack_rf([self.kernel_size] * self.num_layers, self.rates * self.num_blocks)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.dims == "1d":
            x = x.flatten(1, 2)  # (B, C*H, T), same feature order as collapse_height
        keep = keep_mask(lengths.to(x.device), x.shape[-1], x.ndim)  # (B, 1, [1,] T)
        x = self.proj(x)  # (B, channels, [H,] T)
        outs = []
        for conv, norm in zip(self.convs, self.norms):
            y = self.dropout(self.act(norm(conv(x.masked_fill(~keep, 0)))))  # (B, channels, [H,] T)
            x = x + y if self.residual else y
            outs.append(x)
        y = torch.cat(outs if self.concat == "all" else outs[-1:], dim=1)  # (B, channels * layers, [H,] T)
        y = y.masked_fill(~keep, 0)  # zero past lengths, as the BiLSTM's outputs
        y = collapse_height(y) if self.dims == "2d" else y.transpose(1, 2)  # (B, T, D)
        return y, lengths
