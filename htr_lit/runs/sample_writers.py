"""Where `PredictionSamples` sends its words, per tracker: W&B gets a table with images, TensorBoard one image
per word (truth in the tag) and a markdown table of truth and prediction, the CSV log a predictions CSV."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

WANDB_COLUMNS = ("image", "truth", "prediction", "cer", "id")
CSV_COLUMNS = ("epoch", "step", "id", "truth", "prediction", "cer")
# (logger, key, samples, epoch=..., step=...)
Writer = Callable[..., None]


@dataclass(frozen=True)
class PredictionSample:
    """One validation word as the writers show it."""

    image: np.ndarray  # (H, W) uint8, dark ink on white paper, the padding cut off
    truth: str
    prediction: str
    cer: float  # edits / len(truth)
    id: str


def to_wandb(logger: WandbLogger, key: str, samples: Sequence[PredictionSample], epoch: int, step: int) -> None:
    """One `wandb.Table` per validation pass, at the trainer's step (the same axis as `val/cer`)."""
    import wandb

    rows = [[wandb.Image(s.image, caption=f"{s.truth} -> {s.prediction}"), s.truth, s.prediction, s.cer, s.id]
            for s in samples]
    logger.log_table(key, columns=list(WANDB_COLUMNS), data=rows, step=step)


def image_tag(key: str, index: int, truth: str) -> str:
    """`val/predictions/03 Haus`: one image series per word (the same words every epoch), so TensorBoard's
    step slider shows that word across training; '/' in the truth would nest the tag, so it becomes '_'."""
    return f"{key}/{index:02d} {truth.replace('/', '_')}"


def markdown_cell(text: str) -> str:
    """Text shown literally in a markdown table cell (TensorBoard renders text summaries as markdown)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~])", r"\\\1", text)


def markdown_table(samples: Sequence[PredictionSample], epoch: int) -> str:
    """The epoch's words as a markdown table; an empty prediction (an early model's usual answer) reads
    *(empty)* (a literal "(empty)" would be escaped, so the two differ)."""
    rows = [f"| {i} | {markdown_cell(s.truth)} | {markdown_cell(s.prediction) or '*(empty)*'} | {s.cer:.3f} |"
            for i, s in enumerate(samples)]
    return "\n".join([f"epoch {epoch}", "", "| # | truth | prediction | CER |", "|---|---|---|---|", *rows])


def to_tensorboard(logger: TensorBoardLogger, key: str, samples: Sequence[PredictionSample], epoch: int,
                   step: int) -> None:
    writer = logger.experiment  # torch SummaryWriter
    for i, s in enumerate(samples):
        writer.add_image(image_tag(key, i, s.truth), s.image[None], step, dataformats="CHW")  # (1, H, W) uint8
    writer.add_text(key, markdown_table(samples, epoch), step)


def to_csv(logger: CSVLogger, key: str, samples: Sequence[PredictionSample], epoch: int, step: int) -> None:
    """Appends to `<csv log dir>/val_predictions.csv` (for key `val/predictions`): every epoch's rows."""
    path = Path(logger.log_dir) / f"{key.replace('/', '_')}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        if new:
            out.writerow(CSV_COLUMNS)
        out.writerows([epoch, step, s.id, s.truth, s.prediction, s.cer] for s in samples)


def writer_for(logger: Logger) -> Writer | None:
    """The writer for this logger, or None (e.g. the DummyLogger that fast_dev_run swaps in)."""
    for kind, write in ((WandbLogger, to_wandb), (TensorBoardLogger, to_tensorboard), (CSVLogger, to_csv)):
        if isinstance(logger, kind):
            return write
    return None
