"""Checkpointing that survives a kill at any moment: every file is written whole or not at all."""

from __future__ import annotations

import os

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn


class AtomicModelCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` that writes `<file>.tmp` and renames it over `<file>` (atomic on POSIX), so a
    SIGKILL mid-write leaves the previous `last.ckpt` intact instead of a truncated one.

    Used twice in `conf/callbacks/default.yaml`: `model_checkpoint` (best by val/cer + last at each
    validation) and `last_checkpoint` (last.ckpt every `every_n_train_steps` steps, mid-epoch too).
    """

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        tmp = f"{filepath}.tmp"
        super()._save_checkpoint(trainer, tmp)
        if trainer.is_global_zero:
            os.replace(tmp, filepath)
        trainer.strategy.barrier()
        self._last_checkpoint_saved = filepath


class ValidationCurve(L.Callback):
    """Records `val/cer` and `val/wer` after every validation pass (epoch, step), for the learning curves
    in metrics.json (`curve/val`) and the sweep report. Kept in checkpoints, so a resumed run continues
    its curve instead of starting a new one."""

    KEYS = ("val/cer", "val/wer")

    def __init__(self) -> None:
        self.points: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:  # not trainer.validate() after fit
            return
        point = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step}  # epochs counted from 1
        for key in self.KEYS:
            value = trainer.callback_metrics.get(key)
            if value is not None:
                point[key] = round(float(value), 6)
        if len(point) > 2:
            self.points.append(point)

    def state_dict(self) -> dict[str, list[dict[str, float]]]:
        return {"points": list(self.points)}

    def load_state_dict(self, state_dict: dict[str, list[dict[str, float]]]) -> None:
        self.points = list(state_dict.get("points", []))
