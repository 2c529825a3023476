"""Checkpointing that survives a kill at any moment: every file is written whole or not at all."""

from __future__ import annotations

import os

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


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
