"""Receptive fields along the time (width) axis: of a conv stack in frames, of the whole network in pixels.

The dilated-vs-LSTM question is partly one of context: a conv model sees a fixed window, the BiLSTM the
whole word. These analytic numbers make that window explicit (the tests check them empirically).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn


def _width(value: int | Sequence[int]) -> int:
    """The width entry of a 2-D (h, w) conv/pool argument, or the value itself for 1-D/int."""
    return value if isinstance(value, int) else value[-1]


def conv_stack_rf(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> int:
    """Frames seen by one output frame of stride-1 convs in series: 1 + sum((k - 1) * d)."""
    if len(kernel_sizes) != len(dilations):
        raise ValueError(f"conv_stack_rf: {len(kernel_sizes)} kernel sizes but {len(dilations)} dilations")
    return 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations))


def width_rf_and_jump(modules: Iterable[nn.Module]) -> tuple[int, int]:
    """(receptive field, jump) in input columns of modules run in the given order.

    Standard recursion: rf += (k_eff - 1) * jump; jump *= stride, with k_eff = d * (k - 1) + 1.
    Convs and max/avg pools change it; every other module (norm, activation, dropout) is pointwise.
    """
    rf, jump = 1, 1
    for m in modules:
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            k, s, d = _width(m.kernel_size), _width(m.stride), _width(m.dilation)
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
            k, s = _width(m.kernel_size), _width(m.stride)
            d = _width(getattr(m, "dilation", 1))
        else:
            continue
        rf += (d * (k - 1)) * jump
        jump *= s
    return rf, jump


def total_rf(encoder: nn.Module, sequence: nn.Module) -> dict[str, int | None]:
    """The sequence model's RF in frames and the whole network's RF in input pixels along the width.

    A sequence model without `receptive_field_frames()` (the BiLSTM) sees the whole word: None ("inf").
    One frame more of context = `jump` (= the encoder's width_factor) more pixels.
    """
    enc_rf, jump = width_rf_and_jump(encoder.modules())
    rf_frames = getattr(sequence, "receptive_field_frames", None)
    frames = rf_frames() if rf_frames is not None else None
    pixels = None if frames is None else enc_rf + (frames - 1) * jump
    return {"frames": frames, "pixels": pixels}


def line_coverage(rf_frames: int | None, frames: int) -> float:
    """Mean share of a `frames`-long sequence inside one output frame's window of `rf_frames` (centred,
    cut at the ends); 1.0 when every frame sees the whole line (rf >= 2 * frames - 1, or None: BiLSTM)."""
    if rf_frames is None or rf_frames >= 2 * frames - 1:
        return 1.0
    half = (rf_frames - 1) // 2
    seen = sum(min(t + half, frames - 1) - max(t - half, 0) + 1 for t in range(frames))
    return seen / frames**2


def empirical_rf_frames(sequence: nn.Module, features: torch.Tensor) -> int:
    """Span of the input frames with a nonzero gradient on the middle output frame: what it really sees
    of these (1, C, H, T) features, cut at the sequence's ends (eval mode, weights as they are)."""
    was_training = sequence.training
    sequence.eval()
    x = features.detach().clone().requires_grad_(True)
    try:
        y, _ = sequence(x, torch.tensor([x.shape[-1]], device=x.device))  # (1, T, D)
        y[0, x.shape[-1] // 2].sum().backward()
    finally:
        sequence.train(was_training)
    cols = (x.grad.abs().flatten(0, -2).sum(dim=0) > 0).nonzero().flatten()  # (n,)
    return int(cols.max() - cols.min() + 1) if len(cols) else 0
