"""The decoder interface: a plain callable from CTC log-probabilities to ranked hypotheses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class Hypothesis:
    """One transcription candidate; `score` is a log-probability (higher is better)."""

    text: str
    score: float


class Decoder(Protocol):
    """`(log_probs (B, T, C), lengths (B,)) -> one best-first list of hypotheses per image`.

    `log_probs` are log-softmax outputs with the CTC blank at class 0; `lengths` are the valid
    frames of each row. Decoders are chosen at eval/predict time and never change training.
    """

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]: ...
