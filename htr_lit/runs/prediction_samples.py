"""Each validation pass during training: the first N validation words (the image the model saw), their truth,
the greedy prediction and its CER, sent to the attached trackers (W&B table, TensorBoard images + text,
a CSV file next to the CSV log), so one sees what the model reads and not only its CER."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import Logger
from lightning.pytorch.trainer.states import TrainerFn
from torchmetrics.functional.text import char_error_rate

from htr_lit.runs.sample_writers import PredictionSample, Writer, writer_for


def sample_image(images: torch.Tensor, widths: torch.Tensor, i: int) -> np.ndarray:
    """Batch image i as the model saw it (ink 1, paper 0), without its padding, as a paper-white uint8 picture."""
    img = images[i, 0, :, : int(widths[i])].detach().float().cpu()  # (H, W_i)
    return ((1.0 - img.clamp(0.0, 1.0)) * 255.0).round().to(torch.uint8).numpy()


class PredictionSamples(L.Callback):
    """Collects the first `num_samples` validation words of every `every_n_epochs`-th epoch (rank 0 only, not
    in the sanity check nor in `trainer.validate()` after fit) and logs them at the end of the validation pass
    under `key` to every attached logger that has a writer in `htr_lit.runs.sample_writers`.

    The predictions are the ones `validation_step` decoded (its `{"preds": [...]}`); a module that returns
    none has the collected images decoded again, a forward pass over at most `num_samples` images.
    """

    def __init__(self, num_samples: int = 16, every_n_epochs: int = 1, key: str = "val/predictions") -> None:
        if num_samples < 0 or every_n_epochs < 1:
            raise ValueError(f"PredictionSamples: num_samples must be >= 0 (0 = off) and every_n_epochs >= 1, "
                             f"got {num_samples} and {every_n_epochs}")
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.key = key
        self.samples: list[PredictionSample] = []

    def _writers(self, trainer: L.Trainer) -> list[tuple[Logger, Writer]]:
        """(logger, writer) pairs when this validation pass is to be logged, else []."""
        if (self.num_samples == 0 or not trainer.is_global_zero or trainer.sanity_checking
                or trainer.state.fn != TrainerFn.FITTING or (trainer.current_epoch + 1) % self.every_n_epochs):
            return []
        pairs = [(lg, writer_for(lg)) for lg in trainer.loggers]
        return [(lg, write) for lg, write in pairs if write is not None]

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.samples = []

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                                batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        k = min(self.num_samples - len(self.samples), len(batch["texts"]))
        if k <= 0 or not self._writers(trainer):
            return
        preds = outputs.get("preds") if isinstance(outputs, dict) else None
        if preds is None:
            preds = self._decode(pl_module, batch, k)
        for i in range(k):
            truth, pred = batch["texts"][i], preds[i]
            cer = float(char_error_rate([pred], [truth])) if truth else float(bool(pred))
            self.samples.append(PredictionSample(sample_image(batch["images"], batch["widths"], i), truth, pred,
                                                 cer, batch["ids"][i]))

    @staticmethod
    @torch.no_grad()
    def _decode(pl_module: L.LightningModule, batch: dict[str, Any], k: int) -> list[str]:
        log_probs, lengths = pl_module(batch["images"][:k], batch["widths"][:k])  # (k, T, C), (k,)
        return pl_module.decode(log_probs, lengths)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        samples, self.samples = self.samples, []
        if not samples:
            return
        for logger, write in self._writers(trainer):
            write(logger, self.key, samples, epoch=trainer.current_epoch + 1, step=trainer.global_step)
