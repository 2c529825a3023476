"""Best-path (greedy) CTC decoding, batched on tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from htr_lit.decoding.base import Hypothesis


def best_path(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Argmax per frame, merge repeats, drop blanks. Returns label indices per row."""
    best = log_probs.argmax(dim=-1)  # (B, T)
    B, T = best.shape
    frame = torch.arange(T, device=best.device).unsqueeze(0)  # (1, T)
    valid = frame < lengths.to(best.device).unsqueeze(1)  # (B, T)
    prev = torch.nn.functional.pad(best[:, :-1], (1, 0), value=blank)  # (B, T) label at t-1
    keep = valid & (best != blank) & (best != prev)  # (B, T)
    best, keep = best.cpu(), keep.cpu()
    return [best[b][keep[b]].tolist() for b in range(B)]


class GreedyDecoder:
    """Best path; the score is the sum of the per-frame maximum log-probabilities."""

    def __init__(self, tokens: Sequence[str], blank: int = 0) -> None:
        self.tokens = list(tokens)
        self.blank = blank

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        paths = best_path(log_probs, lengths, self.blank)
        T = log_probs.shape[1]
        frame = torch.arange(T, device=log_probs.device).unsqueeze(0)
        mask = frame < lengths.to(log_probs.device).unsqueeze(1)  # (B, T)
        scores = (log_probs.max(dim=-1).values * mask).sum(dim=1).tolist()  # (B,)
        return [
            [Hypothesis("".join(self.tokens[i] for i in path), float(s))]
            for path, s in zip(paths, scores)
        ]
