"""The CRNN baseline: a bidirectional LSTM over the CNN's columns."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from htr_lit.models.sequence.common import collapse_height


class BiLSTM(nn.Module):
    """Stacked BiLSTM; padded frames are packed away so they never leak into the valid ones."""

    def __init__(
        self, in_channels: int, in_height: int, hidden_size: int = 256, num_layers: int = 2, dropout: float = 0.25
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            in_channels * in_height,
            hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.hidden_size = hidden_size

    def output_size(self) -> int:
        return 2 * self.hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = collapse_height(x)  # (B, T, C*H)
        T = seq.shape[1]
        packed = pack_padded_sequence(seq, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, 2*hidden)
        return self.dropout(out), lengths
