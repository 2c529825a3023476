"""Helpers shared by the sequence models: column collapse, padding masks, norms and argument checks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

NORMS = ("batch", "layer", "none")
ACTIVATIONS = ("relu", "gelu")


def collapse_height(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, W, C*H): one feature vector per column (time step)."""
    B, C, H, W = x.shape
    return x.reshape(B, C * H, W).transpose(1, 2)


def keep_mask(lengths: torch.Tensor, T: int, ndim: int) -> torch.Tensor:
    """(B,) frame lengths -> bool (B, 1, [1,] T), True on valid frames; broadcasts over (B, C, [H,] T)."""
    keep = torch.arange(T, device=lengths.device) < lengths[:, None]  # (B, T)
    return keep.view(keep.shape[0], *([1] * (ndim - 2)), T)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of each position of a (B, C, ...) map.

    Per position, so padded frames never enter a valid frame's statistics (GroupNorm would).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)  # (B, C, ...)


def make_norm(norm: str, channels: int, dims: str) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels) if dims == "2d" else nn.BatchNorm1d(channels)
    return ChannelLayerNorm(channels) if norm == "layer" else nn.Identity()


def make_activation(activation: str) -> nn.Module:
    return nn.ReLU() if activation == "relu" else nn.GELU()


def check_conv_args(
    name: str, rates: Sequence[int], num_blocks: int, kernel_size: int, norm: str, activation: str,
    dropout: float,
) -> None:
    """Fail at build time, saying what is allowed, rather than deep inside a conv."""
    if len(rates) == 0 or any(int(r) != r or r < 1 for r in rates):
        raise ValueError(f"{name}: rates must be a non-empty list of ints >= 1 (e.g. [1, 2, 4]), got {rates}")
    if num_blocks < 1:
        raise ValueError(f"{name}: num_blocks must be >= 1, got {num_blocks}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"{name}: kernel_size must be odd and positive ('same' padding), got {kernel_size}")
    if norm not in NORMS:
        raise ValueError(f"{name}: norm must be one of {NORMS}, got {norm!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{name}: activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
