"""Characters a recognizer cannot write: grow its output layer with one row per new character, initialised from
the character it decomposes to (`é` from `e`, `Å` from `A`) when the model knows that one, else from the mean of its
character rows with the lowest bias, so that a new character starts unlikely and training makes it likely."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import torch
from torch import nn

from htr_lit.charset import Charset
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.models.module import HTRModule


def missing_chars(charset: Charset, texts: Iterable[str]) -> list[str]:
    """The characters of `texts` that `charset` lacks, sorted."""
    return sorted({c for t in texts for c in charset.unknown(t)})


def base_char(c: str) -> str:
    """The character `c` decomposes to without its marks (NFD's first code point): `é` -> `e`; itself otherwise."""
    return unicodedata.normalize("NFD", c)[0]


def _grown_rows(weight: torch.Tensor, bias: torch.Tensor, chars: list[str],
                new: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """weight (C, ...) and bias (C,) of an output layer over [blank, *chars] -> (C + len(new), ...), (C + len(new),)."""
    index = {c: i + 1 for i, c in enumerate(chars)}  # row 0 is the CTC blank
    char_rows = weight[1:] if len(chars) else weight
    mean_row, low_bias = char_rows.mean(dim=0), bias[1:].min() if len(chars) else bias.min()
    rows, biases = [], []
    for c in new:
        source = index.get(base_char(c))
        if source is not None:  # a letter with a mark: start from the bare letter, a little less likely
            rows.append(weight[source].clone())
            biases.append(bias[source] - 1.0)
        else:
            rows.append(mean_row.clone())
            biases.append(low_bias.clone())
    return torch.cat([weight, torch.stack(rows)]), torch.cat([bias, torch.stack(biases)])


def grow_charset(model: HTRModule, new: list[str]) -> None:
    """Add `new` characters to `model` in place: its head (and the training-only shortcut head, if any), charset,
    greedy decoder and stored charset, so that a checkpoint saved afterwards loads with the larger charset."""
    if not new:
        return
    chars = list(model.charset.chars)
    if set(new) & set(chars):
        raise ValueError(f"already in the charset: {sorted(set(new) & set(chars))}")
    linear: nn.Linear = model.head[-1]
    with torch.no_grad():
        weight, bias = _grown_rows(linear.weight, linear.bias, chars, new)
        grown = nn.Linear(linear.in_features, len(weight))
        grown.weight.copy_(weight)
        grown.bias.copy_(bias)
    model.head[-1] = grown
    if model.shortcut is not None:  # (C, D, k) conv: its rows grow the same way
        conv = model.shortcut.conv
        with torch.no_grad():
            weight, bias = _grown_rows(conv.weight, conv.bias, chars, new)
            grown_conv = nn.Conv1d(conv.in_channels, len(weight), conv.kernel_size, padding=conv.padding)
            grown_conv.weight.copy_(weight)
            grown_conv.bias.copy_(bias)
        model.shortcut.conv = grown_conv
    model.charset = Charset(chars + list(new))
    model.hparams["charset"] = list(model.charset.chars)
    model.decoder = GreedyDecoder(model.charset.tokens)
    model.htr_meta = {**model.htr_meta, "charset": list(model.charset.chars)}
