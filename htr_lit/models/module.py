"""HTRModule: encoder -> sequence model -> per-frame linear head -> CTC, with CER/WER metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from htr_lit.charset import Charset
from htr_lit.decoding.base import Decoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.metrics import text_metrics
from htr_lit.models.ctc import CTCLoss
from htr_lit.models.encoders import MaskedEncoder
from htr_lit.models.schedules import build_scheduler
from htr_lit.models.shortcut import CTCShortcut

log = logging.getLogger(__name__)


class HTRModule(L.LightningModule):
    """Composes interchangeable parts chosen by Hydra (`model/encoder`, `model/sequence`).

    `sequence` is a partial that receives the encoder's output shape; `optimizer` and `scheduler`
    are partials that receive the parameters / optimizer. The checkpoint carries the charset, the
    model config and the preprocessing settings (see `htr_lit.checkpoint`).

    `shortcut_weight > 0` adds an auxiliary CTC head on the CNN features (`htr_lit.models.shortcut`) whose
    loss, times that weight, joins the training loss (`train/loss` is then the sum; `train/loss_ctc` and
    `train/loss_shortcut` its parts); 0 creates no head (old checkpoints load unchanged).
    """

    def __init__(
        self,
        encoder: MaskedEncoder,
        sequence: Callable[..., nn.Module],
        optimizer: Callable[..., torch.optim.Optimizer],
        charset: Sequence[str],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
        head_dropout: float = 0.0,
        compile: bool = False,
        max_nonfinite_losses: int = 10,
        channels_last: bool = False,
        shortcut_weight: float = 0.0,
    ) -> None:
        super().__init__()
        charset = [str(c) for c in charset]  # plain list (not ListConfig) so checkpoints load weights_only
        self.save_hyperparameters(ignore=["encoder", "sequence", "optimizer", "scheduler"])
        self.charset = Charset(charset)
        self.encoder = encoder
        self.sequence = sequence(in_channels=encoder.output_channels, in_height=encoder.output_height)
        self.head = nn.Sequential(
            nn.Dropout(head_dropout), nn.Linear(self.sequence.output_size(), self.charset.num_classes)
        )
        self.criterion = CTCLoss(blank=0)
        if shortcut_weight < 0:
            raise ValueError(f"model.shortcut_weight must be >= 0 (0 = off), got {shortcut_weight}")
        # Training only (not in forward, decoding or export); None when off: no parameters, no state_dict keys.
        self.shortcut = CTCShortcut(encoder.output_channels, self.charset.num_classes) if shortcut_weight > 0 else None
        # Greedy for validation during training; eval swaps in the `decoder=` choice after loading
        # (`model.decoder = build_decoder(...)`, see htr_lit.eval); any `Decoder` callable fits.
        self.decoder: Decoder = GreedyDecoder(self.charset.tokens)
        # eval's `tta=`: a callable test batch -> texts that reads the images itself (htr_lit.eval.StretchReader);
        # None: the test texts are decoded from the one forward pass, as in validation.
        self.test_reader: Callable[[dict[str, Any]], list[str]] | None = None
        self._optimizer, self._scheduler = optimizer, scheduler
        self.val_metrics = text_metrics("val/")
        self.test_metrics = text_metrics("test/")
        # Filled in by the entry point; written into every checkpoint (see on_save_checkpoint).
        self.htr_meta: dict[str, Any] = {}
        self.nonfinite_in_a_row = 0  # NaN/inf training losses since the last finite one
        self.channels_last = channels_last
        if channels_last:  # NHWC conv weights (4-D parameters only); inputs are converted in forward
            self.to(memory_format=torch.channels_last)

    def setup(self, stage: str) -> None:
        """`model.compile=true`: torch.compile the encoder and sequence model in place for training
        (Module.compile keeps the state_dict keys, so checkpoints stay loadable without it)."""
        if self.hparams.compile and stage == "fit":
            self.encoder.compile()
            self.sequence.compile()

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 1, H, W), widths (B,) -> log_probs (B, T, C), frame lengths (B,)."""
        return self._decode_features(*self._features(images, widths))

    def _features(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.encoder(images, widths)  # (B, C', H', T), (B,)

    def _decode_features(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq, lengths = self.sequence(feats, lengths)  # (B, T, D)
        logits = self.head(seq)  # (B, T, num_classes)
        return logits.float().log_softmax(dim=-1), lengths

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Best hypothesis per image from `self.decoder` (the one `_eval_step` scores)."""
        return [hyps[0].text for hyps in self.decoder(log_probs, lengths)]

    def _loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch's CTC loss, log-probs and frame lengths. In training with the shortcut head on, the loss
        is the main CTC loss + shortcut_weight x the head's CTC loss (both logged: train/loss_ctc,
        train/loss_shortcut), computed on the same encoder pass."""
        feats, frames = self._features(batch["images"], batch["widths"])
        log_probs, lengths = self._decode_features(feats, frames)
        targets, target_lengths = batch["targets"], batch["target_lengths"]
        loss = self.criterion(log_probs, lengths, targets, target_lengths)
        if self.training and self.shortcut is not None:
            shortcut = self.criterion(self.shortcut(feats), frames, targets, target_lengths)
            if torch.isfinite(loss + shortcut):  # a non-finite batch is skipped (training_step), not logged
                self.log_dict(
                    {"train/loss_ctc": loss.detach(), "train/loss_shortcut": shortcut.detach()},
                    batch_size=len(batch["texts"]),
                )
            loss = loss + self.hparams.shortcut_weight * shortcut
        return loss, log_probs, lengths

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        loss, _, _ = self._loss(batch)
        if not torch.isfinite(loss):
            return self._skip_nonfinite(loss, batch)
        self.nonfinite_in_a_row = 0
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["texts"]))
        return loss

    def _skip_nonfinite(self, loss: torch.Tensor, batch: dict[str, Any]) -> None:
        """A NaN/inf loss: returning None skips backward and the optimizer step (no update from this
        batch); after `max_nonfinite_losses` in a row the run has diverged and stops."""
        self.nonfinite_in_a_row += 1
        limit = self.hparams.max_nonfinite_losses
        ids = ", ".join(batch["ids"][:3])
        if self.nonfinite_in_a_row > limit:
            raise FloatingPointError(
                f"training stopped: {self.nonfinite_in_a_row} non-finite losses in a row (limit "
                f"model.max_nonfinite_losses={limit}) at step {self.global_step}; lower the learning rate "
                f"or check the data (last batch: {ids} ...)"
            )
        log.warning(
            "step %d: loss is %s, batch skipped without an update (%d in a row, limit %d; batch: %s ...)",
            self.global_step,
            loss.item(),
            self.nonfinite_in_a_row,
            limit,
            ids,
        )
        return None

    def _eval_step(self, batch: dict[str, Any], stage: str) -> list[str]:
        loss, log_probs, lengths = self._loss(batch)
        if stage == "test" and self.test_reader is not None:
            preds = self.test_reader(batch)
        else:
            preds = self.decode(log_probs, lengths)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(preds, batch["texts"])
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=len(preds))
        self.log_dict(metrics, prog_bar=stage == "val", batch_size=len(preds))
        return preds

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, list[str]]:
        """Returns the decoded texts for the callbacks (htr_lit.runs.prediction_samples logs a few)."""
        return {"preds": self._eval_step(batch, "val")}

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> Any:
        optimizer = self._optimizer(params=self.parameters())
        if self._scheduler is None:
            return optimizer
        # Any positive length works, 1 step included (see htr_lit.models.schedules).
        scheduler = build_scheduler(self._scheduler, optimizer, int(self.trainer.estimated_stepping_batches))
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.hparams.scheduler_interval},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["htr_lit"] = {**self.htr_meta, "charset": list(self.charset.chars)}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def summary_line(self) -> str:
        """One human-readable line describing the network (logged at start)."""
        parts = {"encoder": self.encoder, "sequence": self.sequence, "head": self.head}
        if self.shortcut is not None:
            parts["shortcut"] = self.shortcut
        sizes = ", ".join(
            f"{k} {type(m).__name__} {sum(p.numel() for p in m.parameters()) / 1e6:.2f}M" for k, m in parts.items()
        )
        return f"{self.num_parameters() / 1e6:.2f}M params ({sizes}); {self.charset.num_classes} classes"
