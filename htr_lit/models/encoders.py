"""CNN encoders: word image -> feature map, each knowing its output shape at build time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """Conv(3x3 or kxk, 'same') + BatchNorm + ReLU layers, each optionally followed by max pooling.

    `pools[i] = [ph, pw]` pools height and width after layer i ([1, 1]: none). The time axis is the
    width: one output column per `prod(pw)` input pixels. `height_pool="max"` max-pools the final map over
    its whole height (column max pooling, Retsinas et al. 2022): output_height 1 instead of flattening C*H.
    """

    HEIGHT_POOLS = ("none", "max")

    def __init__(
        self,
        in_height: int,
        channels: Sequence[int],
        kernel_sizes: Sequence[int],
        pools: Sequence[Sequence[int]],
        dropout: float = 0.0,
        in_channels: int = 1,
        height_pool: str = "none",
    ) -> None:
        super().__init__()
        if height_pool not in self.HEIGHT_POOLS:
            raise ValueError(f"encoder: height_pool={height_pool!r}; choose one of {', '.join(self.HEIGHT_POOLS)}")
        if not (len(channels) == len(kernel_sizes) == len(pools)):
            raise ValueError(
                f"encoder: channels ({len(channels)}), kernel_sizes ({len(kernel_sizes)}) and pools "
                f"({len(pools)}) must have one entry per layer"
            )
        self.height_factor = math.prod(p[0] for p in pools)
        self.width_factor = math.prod(p[1] for p in pools)
        if in_height < self.height_factor or in_height % self.height_factor:
            raise ValueError(
                f"encoder: image height {in_height} cannot go through pooling of total height factor "
                f"{self.height_factor}; use data.img_height as a multiple of {self.height_factor} "
                f"(e.g. {max(self.height_factor, 64 // self.height_factor * self.height_factor)})"
            )
        layers: list[nn.Module] = []
        prev = in_channels
        for ch, k, pool in zip(channels, kernel_sizes, pools):
            layers += [nn.Conv2d(prev, ch, k, padding=k // 2, bias=False), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
            if tuple(pool) != (1, 1):
                layers.append(nn.MaxPool2d(kernel_size=tuple(pool), stride=tuple(pool)))
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            prev = ch
        self.net = nn.Sequential(*layers)
        self.in_height = in_height
        self.output_channels = prev
        self.height_pool = height_pool
        self.output_height = 1 if height_pool == "max" else in_height // self.height_factor

    @property
    def min_width(self) -> int:
        """The narrowest image that still yields one output frame."""
        return self.width_factor

    def frames(self, widths: torch.Tensor) -> torch.Tensor:
        """Number of output frames for images of the given pixel widths (floor of each pooling)."""
        return torch.div(widths, self.width_factor, rounding_mode="floor")

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (B, 1, H, W), widths: (B,) valid pixel columns per image
        # Columns past each image's width are zeroed after every activation and pooling, so the next
        # conv sees zeros there exactly as at the edge of a lone, unpadded image: an image's output
        # does not depend on the other images of its batch (BatchNorm+ReLU would turn padding non-zero).
        valid = widths.to(x.device)  # (B,) valid columns at the current resolution
        y = x
        for layer in self.net:
            y = layer(y)
            if isinstance(layer, nn.MaxPool2d):
                valid = torch.div(valid, layer.stride[1], rounding_mode="floor")
            if isinstance(layer, (nn.ReLU, nn.MaxPool2d)):
                keep = torch.arange(y.shape[-1], device=y.device)[None, :] < valid[:, None]  # (B, W')
                y = y * keep[:, None, None, :].to(y.dtype)
        if self.height_pool == "max":
            y = y.amax(dim=2, keepdim=True)  # (B, C, 1, W'): padding columns stay zero
        # y: (B, C, output_height, W / width_factor)
        return y, self.frames(widths).clamp(max=y.shape[-1])
