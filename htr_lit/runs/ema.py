"""An exponential moving average (EMA) of the weights, for validation, the saved checkpoints and the final
model: Lightning's `EMAWeightAveraging`, made to fit `htr_lit.train`'s fit -> validate/test(best) flow."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class EMAWeights(EMAWeightAveraging):
    """After every optimizer step `ema = decay * ema + (1 - decay) * weights` (the first step copies them),
    BatchNorm statistics included. Validation during fit runs on the EMA weights, every checkpoint's
    `state_dict` holds them (the raw weights go to `current_model_state` for resuming), so best.ckpt, eval,
    predict and export all use the average; after fit the model holds it too.

    Lightning's callback also swaps in its in-memory average at every validation and reloads the raw
    weights whenever a checkpoint is loaded; outside fit both are wrong here: `trainer.validate/test(
    ckpt_path=best)` must score best.ckpt's own averaged weights, not the last average or the raw ones.
    And before the first update (`update_starting_at_step`) there is no average yet: the plain weights
    are validated and saved, not the copy of the initial ones that Lightning keeps until then.
    """

    def __init__(self, decay: float = 0.999, update_every_n_steps: int = 1, update_starting_at_step: int | None = None,
                 use_buffers: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"callbacks.ema.decay must be in [0, 1), got {decay}")
        super().__init__(decay=decay, update_every_n_steps=update_every_n_steps,
                         update_starting_at_step=update_starting_at_step, use_buffers=use_buffers)
        self.decay = decay

    @staticmethod
    def _fitting(trainer: L.Trainer) -> bool:
        return trainer.state.fn == TrainerFn.FITTING

    def _averaged(self) -> bool:
        """An average exists: at least one update since fit began (or restored from a checkpoint)."""
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._fitting(trainer) and self._averaged():
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._fitting(trainer) and self._averaged():
            super().on_validation_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._averaged():
            super().on_train_end(trainer, pl_module)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._average_model is None or self._averaged():
            super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._fitting(trainer):  # resuming: the raw weights continue training, the average keeps averaging
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
