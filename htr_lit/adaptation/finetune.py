"""The fine-tuning loop of `htr-adapt`: a recognizer's own CTC training step on a user's few words, with a pull
toward the base weights (L2-SP), the held-out words read every `eval_every` steps, and the weights of the step
that read them best kept (the base's own weights when no step beats them); `select` says what "best" is.

`Recipe` is the `recipe:` node of conf/adapt.yaml; its defaults were chosen on validation writers
(docs/adaptation.md)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from htr_lit.data.augment import build_augment
from htr_lit.data.collate import collate
from htr_lit.data.dataset import WordDataset
from htr_lit.data.preprocess import Preprocess
from htr_lit.data.sample import Sample
from htr_lit.data.sampler import BucketBatchSampler
from htr_lit.inference.scoring import figures
from htr_lit.models.module import HTRModule
from htr_lit.runs.quiet import quiet_lightning

log = logging.getLogger(__name__)
PARTS = ("all", "sequence_head", "head")  # what `Recipe.train` may name
SELECT = ("cer", "loss", "cer_loss")  # what `Recipe.select` may name


@dataclass
class Recipe:
    """How to fine-tune. `steps` optimizer steps (at most `steps_without_holdout` when no word is held out to choose
    the step: run.adapt_words) of `batch_size` words at learning rate `lr` (linear warm-up over
    `warmup` steps, then constant); `train`: all | sequence_head | head (the parts that learn, the rest frozen);
    `l2sp`: weight of the squared distance to the base weights added to the loss (0: off); `augment`: a data.augment
    preset; `batchnorm`: train (their statistics follow the new hand) | frozen (kept as the base's); `eval_every`:
    steps between readings of the held-out words; `select`: the step kept reads them with the lowest CER (`cer`;
    on a tie the earlier step, so a tie with the base keeps the base), the lowest CTC loss per character (`loss`),
    or the lowest CER with ties broken by that loss (`cer_loss`)."""

    steps: int = 300
    steps_without_holdout: int = 150
    lr: float = 3e-4
    batch_size: int = 16
    warmup: int = 10
    train: str = "all"
    l2sp: float = 0.0
    augment: str = "handwriting"
    batchnorm: str = "train"
    eval_every: int = 25
    select: str = "cer"

    def __post_init__(self) -> None:
        if self.train not in PARTS:
            raise ValueError(f"recipe.train={self.train!r}: choose one of {', '.join(PARTS)}")
        if self.batchnorm not in ("train", "frozen"):
            raise ValueError(f"recipe.batchnorm={self.batchnorm!r}: choose train or frozen")
        if self.select not in SELECT:
            raise ValueError(f"recipe.select={self.select!r}: choose one of {', '.join(SELECT)}")
        if self.steps < 0 or self.steps_without_holdout < 0 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("recipe.steps >= 0, recipe.steps_without_holdout >= 0, recipe.batch_size >= 1 and "
                             "recipe.eval_every >= 1")
        build_augment(self.augment)  # a bad preset name fails here


@dataclass
class Words:
    """Labelled words held in memory at the model's preprocessing: samples and their uint8 images."""

    samples: list[Sample]
    images: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]

    def subset(self, indices: Sequence[int]) -> Words:
        """The words at `indices`, in that order."""
        return Words([self.samples[i] for i in indices], [self.images[i] for i in indices])


@dataclass
class Outcome:
    """What fine-tuning did: the step kept, the held-out figures before and after (None without held-out words),
    the curve of held-out CER (and CTC loss per character, when `select` uses it) per evaluated step, and the
    training losses."""

    step: int
    before: dict[str, float] | None
    after: dict[str, float] | None
    curve: list[dict[str, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)


def trainable(model: HTRModule, part: str) -> list[torch.nn.Parameter]:
    """The parameters `part` names (`Recipe.train`); the others get requires_grad False."""
    modules = {"all": [model], "sequence_head": [model.sequence, model.head], "head": [model.head]}[part]
    chosen = {id(p) for m in modules for p in m.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in chosen)
    return [p for p in model.parameters() if p.requires_grad]


def loader(words: Words, model: HTRModule, pre: Preprocess, batch_size: int, augment: str | None,
           seed: int) -> DataLoader:
    """Shuffled (augment given) or in width order (evaluation) batches of `words`, in this process."""
    ds = WordDataset(words.samples, model.charset, pre, augment=build_augment(augment) if augment else None,
                     images=words.images)
    sampler = BucketBatchSampler(ds.widths, batch_size, shuffle=augment is not None, seed=seed)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=0)


@torch.no_grad()
def held_out_pass(model: HTRModule, batches: DataLoader) -> tuple[list[str], list[str], float]:
    """(greedy readings, labels, CTC loss of the labels per label character in nats) of every word in `batches`,
    from one forward pass in eval mode."""
    was_training = model.training
    model.eval()
    preds, texts, total, chars = [], [], 0.0, 0
    for batch in batches:
        log_probs, lengths = model(batch["images"], batch["widths"])  # (B, T, C), (B,)
        preds += model.decode(log_probs, lengths)
        texts += batch["texts"]
        mean = model.criterion(log_probs, lengths, batch["targets"], batch["target_lengths"])  # per word
        total += float(mean) * len(batch["texts"])
        chars += int(batch["target_lengths"].sum())
    model.train(was_training)
    return preds, texts, total / max(chars, 1)


def read(model: HTRModule, batches: DataLoader) -> tuple[list[str], list[str]]:
    """(readings, labels) of every word in `batches`, greedy, in eval mode."""
    preds, texts, _ = held_out_pass(model, batches)
    return preds, texts


def loss_per_char(model: HTRModule, batches: DataLoader) -> float:
    """The CTC loss of the labels in `batches` per label character (nats), in eval mode."""
    return held_out_pass(model, batches)[2]


def _rank(recipe: Recipe, cer: float, loss: float) -> tuple[float, ...]:
    """The key `recipe.select` minimises over the evaluated steps."""
    return {"cer": (cer,), "loss": (loss,), "cer_loss": (cer, loss)}[recipe.select]


class Adaptation(L.LightningModule):
    """Trains `model` (an HTRModule) on the user's words by `recipe`; reads `holdout` every `eval_every` steps and
    keeps the weights of the best reading in memory (`best_state`; step 0 is the base model itself)."""

    def __init__(self, model: HTRModule, recipe: Recipe, holdout: DataLoader | None) -> None:
        super().__init__()
        self.model, self.recipe, self.holdout = model, recipe, holdout
        self.params = trainable(model, recipe.train)
        self.anchor = [p.detach().clone() for p in self.params] if recipe.l2sp > 0 else []
        self.curve: list[dict[str, float]] = []
        self.losses: list[float] = []
        self.best: tuple[tuple[float, ...], int] | None = None  # (rank by recipe.select, step)
        self.best_state: dict[str, torch.Tensor] | None = None

    def consider(self, step: int) -> None:
        """Read the held-out words; keep these weights when they read them better than any earlier step."""
        if self.holdout is None:
            return
        preds, texts, loss = held_out_pass(self.model, self.holdout)
        cer = figures(preds, texts)["cer"]
        entry = {"step": step, "cer": round(cer, 5)}
        if self.recipe.select != "cer":
            entry["loss"] = round(loss, 5)
        self.curve.append(entry)
        rank = _rank(self.recipe, cer, loss)
        if self.best is None or rank < self.best[0]:
            self.best = (rank, step)
            self.best_state = copy.deepcopy(self.model.state_dict())

    def on_train_start(self) -> None:
        self.consider(0)
        if self.recipe.batchnorm == "frozen":
            self._freeze_batchnorm()

    def on_train_epoch_start(self) -> None:
        if self.recipe.batchnorm == "frozen":  # Lightning puts the model in train mode at every epoch
            self._freeze_batchnorm()

    def _freeze_batchnorm(self) -> None:
        for m in self.model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        loss, _, _ = self.model._loss(batch)
        if not torch.isfinite(loss):  # a label CTC cannot align (a wrong one, longer than its image): no update
            return None
        if self.anchor:
            loss = loss + self.recipe.l2sp * sum(((p - a) ** 2).sum() for p, a in zip(self.params, self.anchor))
        self.losses.append(float(loss.detach()))
        self.log("adapt/loss", loss, prog_bar=True, batch_size=len(batch["texts"]))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = self.trainer.global_step
        if step % self.recipe.eval_every == 0 or step == self.recipe.steps:
            self.consider(step)
            if self.curve:
                self.log("adapt/holdout_cer", self.curve[-1]["cer"], prog_bar=True)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(self.params, lr=self.recipe.lr, weight_decay=0.0)
        warmup = max(1, self.recipe.warmup)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def finetune(model: HTRModule, pre: Preprocess, train: Words, holdout: Words | None, recipe: Recipe,
             seed: int = 0, progress: bool = True) -> Outcome:
    """Fine-tune `model` in place on `train` by `recipe`; with `holdout`, the step that reads it best is kept and its
    CER before / after returned. Deterministic for a seed (one process, no workers)."""
    L.seed_everything(seed, workers=True, verbose=False)
    holdout_batches = loader(holdout, model, pre, 64, None, seed) if holdout is not None and len(holdout) else None
    before = figures(*read(model, holdout_batches)) if holdout_batches is not None else None
    task = Adaptation(model, recipe, holdout_batches)
    if recipe.steps > 0:
        quiet_lightning()
        rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        level = rank_zero.level
        rank_zero.setLevel(logging.WARNING)  # no "GPU available" lines for a few minutes' fine-tuning
        trainer = L.Trainer(max_steps=recipe.steps, accelerator="cpu", devices=1, logger=False,
                            enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress,
                            limit_val_batches=0, num_sanity_val_steps=0, max_epochs=-1,
                            gradient_clip_val=5.0)
        batch_size = min(recipe.batch_size, len(train))
        model.train()  # a loaded model is in eval mode, which Lightning keeps
        try:
            trainer.fit(task, train_dataloaders=loader(train, model, pre, batch_size, recipe.augment, seed))
        finally:
            rank_zero.setLevel(level)
    model.eval()
    step = recipe.steps
    if task.best_state is not None and task.best is not None:
        model.load_state_dict(task.best_state)
        step = task.best[1]
    after = figures(*read(model, holdout_batches)) if holdout_batches is not None else None
    for p in model.parameters():
        p.requires_grad_(True)
    return Outcome(step=step, before=before, after=after, curve=task.curve, losses=task.losses, recipe=asdict(recipe))


def rounded(fig: dict[str, float] | None) -> dict[str, float] | None:
    """Figures for a record: fractions to 5 digits."""
    return None if fig is None else {k: round(v, 5) if isinstance(v, float) else v for k, v in fig.items()}
