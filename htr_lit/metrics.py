"""Text metrics shared by validation, test and eval: CER, WER (torchmetrics) and word accuracy."""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.text import CharErrorRate, WordErrorRate


class WordAccuracy(Metric):
    """Fraction of images whose whole transcription is exactly right (summed across DDP ranks)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: list[str], target: list[str]) -> None:
        self.correct += sum(p == t for p, t in zip(preds, target))
        self.total += len(target)

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total.clamp(min=1)


def text_metrics(prefix: str) -> MetricCollection:
    """`{prefix}cer`, `{prefix}wer`, `{prefix}word_acc`, e.g. prefix="val/"."""
    return MetricCollection(
        {"cer": CharErrorRate(), "wer": WordErrorRate(), "word_acc": WordAccuracy()}, prefix=prefix
    )
