"""The model in export form: plain tensor ops that ONNX and TorchScript trace with dynamic batch and width.

`HTRModule` runs its BiLSTM on a packed sequence. Packing does not survive tracing with a dynamic
batch (the sort and per-step batch sizes become constants), so export swaps in `UnpackedBiLSTM`: the
same weights, run without packing, and exact for every valid frame:
- forward direction: on the padded sequence as is; padding comes after the valid frames, so a causal
  pass never sees it;
- backward direction: each sequence is reversed *within its own length* (a per-sample gather), so
  its padding moves to the end too, run forward, and reversed back.
Outputs past each length are zeroed, as `pad_packed_sequence` does. The conv sequence models
(dilated, tcn, none) already mask padding and are traced as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from htr_lit.models.module import HTRModule
from htr_lit.models.sequence.bilstm import BiLSTM, collapse_height


def _unidirectional(lstm: nn.LSTM, layer: int, suffix: str) -> nn.LSTM:
    """One direction of one layer of a (bidirectional, batch_first) LSTM, sharing its weights."""
    in_size = getattr(lstm, f"weight_ih_l{layer}{suffix}").shape[1]
    uni = nn.LSTM(in_size, lstm.hidden_size, batch_first=True, bias=lstm.bias)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if lstm.bias else [])
    for name in names:
        setattr(uni, f"{name}_l0", getattr(lstm, f"{name}_l{layer}{suffix}"))  # the same Parameter objects
    uni.flatten_parameters()
    return uni


class UnpackedBiLSTM(nn.Module):
    """`BiLSTM` without pack_padded_sequence (see the module docstring); eval only (no dropout)."""

    def __init__(self, bilstm: BiLSTM) -> None:
        super().__init__()
        lstm = bilstm.lstm
        self.forward_layers = nn.ModuleList(_unidirectional(lstm, i, "") for i in range(lstm.num_layers))
        self.backward_layers = nn.ModuleList(_unidirectional(lstm, i, "_reverse") for i in range(lstm.num_layers))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = collapse_height(x)  # (B, T, F)
        steps = torch.arange(seq.shape[1], device=seq.device)[None, :]  # (1, T)
        n = lengths.clamp(min=1)[:, None]  # (B, 1); the packed BiLSTM also runs >= 1 frame
        valid = steps < n  # (B, T)
        # Reversal within each length: frame t <-> n-1-t; padded frames stay where they are.
        rev = torch.where(valid, n - 1 - steps, steps)  # (B, T)
        for fw, bw in zip(self.forward_layers, self.backward_layers):
            out_f, _ = fw(seq)  # (B, T, H)
            idx_in = rev[:, :, None].expand(-1, -1, seq.shape[2])  # (B, T, F)
            out_b, _ = bw(seq.gather(1, idx_in))  # (B, T, H) over the reversed frames
            out_b = out_b.gather(1, rev[:, :, None].expand(-1, -1, out_b.shape[2]))  # back in time order
            seq = torch.cat([out_f, out_b], dim=2)  # (B, T, 2H)
        return seq * valid[:, :, None].to(seq.dtype), lengths  # zero past lengths, as pad_packed_sequence


class ExportModel(nn.Module):
    """images (B, 1, H, W) float, widths (B,) int64 -> log_probs (B, T, C), lengths (B,) int64."""

    def __init__(self, model: HTRModule) -> None:
        super().__init__()
        self.encoder = model.encoder
        seq = model.sequence
        self.sequence = UnpackedBiLSTM(seq) if isinstance(seq, BiLSTM) else seq
        self.head = model.head
        self.eval()

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats, lengths = self.encoder(images, widths)  # (B, C', H', T), (B,)
        seq, lengths = self.sequence(feats, lengths)  # (B, T, D)
        return self.head(seq).log_softmax(dim=-1), lengths  # (B, T, C), (B,)
