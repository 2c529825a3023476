"""CNN encoders: word image -> feature map, each knowing its output shape at build time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

HEIGHT_POOLS = ("none", "max")


def _check_layout(in_height: int, height_pool: str, layers: dict[str, Sequence]) -> None:
    """Refuse an unknown height_pool, per-layer lists of unequal length (`layers`: YAML key -> list, the
    pools/strides last) or a height that the pools/strides cannot divide."""
    if height_pool not in HEIGHT_POOLS:
        raise ValueError(f"encoder: height_pool={height_pool!r}; choose one of {', '.join(HEIGHT_POOLS)}")
    if len({len(v) for v in layers.values()}) > 1:
        counts = ", ".join(f"{k} ({len(v)})" for k, v in layers.items())
        raise ValueError(f"encoder: {counts} must have one entry per layer")
    pools = list(layers.values())[-1]
    factor = math.prod(p[0] for p in pools)
    if in_height < factor or in_height % factor:
        raise ValueError(
            f"encoder: image height {in_height} cannot go through pooling of total height factor "
            f"{factor}; use data.img_height as a multiple of {factor} "
            f"(e.g. {max(factor, 64 // factor * factor)})"
        )


class MaskedEncoder(nn.Module):
    """Base of the encoders: runs `self.net` (a Sequential of convs, BatchNorm, ReLU, max pooling, dropout)
    with padding columns zeroed after every ReLU and pooling, and knows its frame rule from its pools/strides."""

    def _set_layout(self, in_height: int, pools: Sequence[Sequence[int]], out_channels: int, height_pool: str) -> None:
        self.height_factor = math.prod(p[0] for p in pools)
        self.width_factor = math.prod(p[1] for p in pools)
        self.in_height = in_height
        self.output_channels = out_channels
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
            if isinstance(layer, (nn.MaxPool2d, nn.Conv2d)) and layer.stride[1] > 1:  # strided conv: as a pool
                valid = torch.div(valid, layer.stride[1], rounding_mode="floor")
            if isinstance(layer, (nn.ReLU, nn.MaxPool2d)):
                keep = torch.arange(y.shape[-1], device=y.device)[None, :] < valid[:, None]  # (B, W')
                y = y * keep[:, None, None, :].to(y.dtype)
        if self.height_pool == "max":
            y = y.amax(dim=2, keepdim=True)  # (B, C, 1, W'): padding columns stay zero
        # y: (B, C, output_height, W / width_factor)
        return y, self.frames(widths).clamp(max=y.shape[-1])


def _dropout(dropout: float) -> list[nn.Module]:
    """The Dropout2d that ends every layer (0: none)."""
    return [nn.Dropout2d(dropout)] if dropout > 0 else []


def _pool_and_dropout(pool: Sequence[int], dropout: float) -> list[nn.Module]:
    """The max pooling ([1, 1]: none) and Dropout2d (0: none) that end every ConvEncoder layer."""
    pooling = [nn.MaxPool2d(kernel_size=tuple(pool), stride=tuple(pool))] if tuple(pool) != (1, 1) else []
    return pooling + _dropout(dropout)


class ConvEncoder(MaskedEncoder):
    """Conv(3x3 or kxk, 'same') + BatchNorm + ReLU layers, each optionally followed by max pooling.

    `pools[i] = [ph, pw]` pools height and width after layer i ([1, 1]: none). The time axis is the
    width: one output column per `prod(pw)` input pixels. `height_pool="max"` max-pools the final map over
    its whole height (column max pooling, Retsinas et al. 2022): output_height 1 instead of flattening C*H.
    """

    HEIGHT_POOLS = HEIGHT_POOLS

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
        _check_layout(in_height, height_pool, {"channels": channels, "kernel_sizes": kernel_sizes, "pools": pools})
        layers: list[nn.Module] = []
        prev = in_channels
        for ch, k, pool in zip(channels, kernel_sizes, pools):
            layers += [nn.Conv2d(prev, ch, k, padding=k // 2, bias=False), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
            layers += _pool_and_dropout(pool, dropout)
            prev = ch
        self.net = nn.Sequential(*layers)
        self._set_layout(in_height, pools, prev, height_pool)


def _conv(c_in: int, c_out: int, kernel_size: int, stride: Sequence[int], groups: int = 1) -> list[nn.Module]:
    """A kxk conv (no bias: BatchNorm follows) with centred windows and floor(size / stride) outputs per axis,
    as a max pool of that stride gives: symmetric padding would give ceil(size / stride) on odd sizes."""
    p, (sh, sw) = kernel_size // 2, stride
    if kernel_size % 2 == 0 or max(sh, sw) > p + 1:
        raise ValueError(f"encoder: kernel_size {kernel_size} must be odd and >= 2 * stride - 1 (stride {[sh, sw]})")
    if (sh, sw) == (1, 1):
        return [nn.Conv2d(c_in, c_out, kernel_size, padding=p, groups=groups, bias=False)]
    return [
        nn.ZeroPad2d((p, p + 1 - sw, p, p + 1 - sh)),  # (left, right, top, bottom): one column less on the right
        nn.Conv2d(c_in, c_out, kernel_size, stride=(sh, sw), groups=groups, bias=False),
    ]


class SeparableEncoder(MaskedEncoder):
    """A cheap encoder (MobileNet-style): strided convolutions instead of max pooling, depthwise-separable layers.

    Layer 0 is Conv(kxk, stride strides[0]) + BatchNorm + ReLU from the image (a depthwise conv of a 1-channel
    input would be a plain conv anyway): narrow, and computed at the strided resolution, so no feature map ever
    has the image's full size. Every later layer is a depthwise kxk conv (one filter per channel, stride
    strides[i]) + BatchNorm + ReLU, then a pointwise 1x1 conv + BatchNorm + ReLU. On a CPU the full-resolution
    map, its BatchNorm/ReLU/masking passes and the max pooling dominate ConvEncoder's time, not its FLOPs.
    `strides` plays the part of ConvEncoder's `pools` ([1, 1]: keep the resolution): strides equal to compact's
    pools give its output shape, time downsampling and frame rule (floor(width / prod of width strides)).
    """

    def __init__(
        self,
        in_height: int,
        channels: Sequence[int],
        strides: Sequence[Sequence[int]],
        kernel_size: int = 3,
        dropout: float = 0.0,
        in_channels: int = 1,
        height_pool: str = "none",
    ) -> None:
        super().__init__()
        _check_layout(in_height, height_pool, {"channels": channels, "strides": strides})
        k = kernel_size
        layers: list[nn.Module] = [
            *_conv(in_channels, channels[0], k, strides[0]),  # stem: (B, C0, H / sh, W / sw)
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
            *_dropout(dropout),
        ]
        prev = channels[0]
        for ch, stride in zip(channels[1:], strides[1:]):
            layers += [
                *_conv(prev, prev, k, stride, groups=prev),  # depthwise: (B, C_prev, h / sh, w / sw)
                nn.BatchNorm2d(prev),
                nn.ReLU(inplace=True),
                nn.Conv2d(prev, ch, 1, bias=False),  # pointwise: (B, C, h / sh, w / sw)
                nn.BatchNorm2d(ch),
                nn.ReLU(inplace=True),
                *_dropout(dropout),
            ]
            prev = ch
        self.net = nn.Sequential(*layers)
        self._set_layout(in_height, strides, prev, height_pool)
