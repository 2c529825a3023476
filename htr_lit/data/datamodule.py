"""HTRDataModule: any dataset source -> validated, cached, width-bucketed train/val/test loaders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from htr_lit.charset import Charset, min_ctc_frames
from htr_lit.data.augment import build_augment
from htr_lit.data.collate import collate
from htr_lit.data.dataset import WordDataset, load_images
from htr_lit.data.preprocess import Preprocess
from htr_lit.data.sample import Sample
from htr_lit.data.sampler import BucketBatchSampler
from htr_lit.data.splits import describe_split
from htr_lit.errors import UserError

log = logging.getLogger(__name__)
# "fit" validates the test split too, so one message lists the bad rows of every split before training.
STAGE_SPLITS = {"fit": ("train", "val", "test"), "validate": ("val",), "test": ("test",), "predict": ("test",)}


class DatasetError(UserError, ValueError):
    """Bad rows or files, all listed in one message (data.on_error=raise)."""


def _where(s: Sample) -> str:
    """How a message names a sample: its row (``labels.csv:12``) and its image file."""
    return f"{s.origin}: {s.path}" if s.origin else str(s.path)


def _report(problems: list[str], what: str, limit: int = 50) -> str:
    shown = "\n  ".join(problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} {what}:\n  {shown}{more}"


class HTRDataModule(L.LightningDataModule):
    """Loads `source` (plus the train split of each `extra_train_sources`), builds the charset from the
    training labels (or takes `charset` from a checkpoint), and validates every row up front."""

    def __init__(
        self,
        source: Any,
        img_height: int = 64,
        max_width: int = 1024,
        min_width: int = 16,
        crop_ink: bool = False,
        crop_margin: float = 0.08,
        contrast: bool = False,
        deslant: bool = False,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 2,
        augment: str = "light",
        pin_memory: bool = False,
        on_error: str = "raise",
        extra_train_sources: Sequence[Any] = (),
        charset: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if on_error not in ("raise", "skip"):
            raise ValueError(f"data.on_error={on_error!r}: choose raise or skip")
        self.source = source
        self.extra_train_sources = list(extra_train_sources)
        # Stored in every checkpoint: eval, predict and export preprocess exactly like this.
        self.preprocess = Preprocess(img_height=img_height, max_width=max_width, min_width=min_width,
                                     crop_ink=crop_ink, crop_margin=crop_margin, contrast=contrast, deslant=deslant)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers, self.pin_memory, self.seed = num_workers, pin_memory, seed
        self.augment = build_augment(augment)  # validates the preset name early
        self.on_error = on_error
        self.charset: Charset | None = Charset(charset) if charset is not None else None
        self.datasets: dict[str, WordDataset] = {}
        self.skipped: list[str] = []
        self._splits: dict[str, list[Sample]] | None = None
        self._pending: dict[str, list[str]] = {}  # split -> bad rows found, not yet reported (validate)
        self._ctc_checked: set[str] = set()

    # ---- loading -----------------------------------------------------------------------------
    def prepare_data(self) -> None:
        for src in [self.source, *self.extra_train_sources]:
            src.prepare()

    def _load_splits(self) -> dict[str, list[Sample]]:
        if self._splits is None:
            splits = self.source.load()
            for src in self.extra_train_sources:
                splits["train"] = splits["train"] + src.load()["train"]
            self._splits = splits
        return self._splits

    def setup(self, stage: str | None = None) -> None:
        """Load and decode the stage's splits, keeping the good samples. The bad rows are reported
        together by `validate` (train/eval call it once the encoder is built, so that labels too long for
        their image join the same message); a loader asked for before that reports them first."""
        splits = self._load_splits()
        if self.charset is None:
            usable = [s for s in splits["train"] if s.text and not s.problem]
            if not usable:
                raise DatasetError("no training samples to build the charset from (and no charset given)")
            self.charset = Charset.from_texts(s.text for s in usable)
        for split in STAGE_SPLITS.get(stage or "fit", ("train", "val", "test")):
            if split not in self.datasets:
                self.datasets[split], self._pending[split] = self._build(split, splits.get(split, []))

    def _build(self, split: str, samples: list[Sample]) -> tuple[WordDataset, list[str]]:
        """Decode and check one split -> the dataset of its good samples and one line per bad one."""
        def bad_row(s: Sample) -> str:
            if s.problem:
                return f"{s.origin or s.path}: {s.problem}"  # the reader's reason names the unusable file_name
            return "" if s.text.strip() else f"{_where(s)}: empty transcription"

        problems = [f"{split}: {bad_row(s)}" for s in samples if bad_row(s)]
        samples = [s for s in samples if not bad_row(s)]
        images, errors = load_images(samples, self.preprocess)
        problems += [f"{split}: {e}" for e in errors]
        keep = [i for i, im in enumerate(images) if im is not None]
        samples, images = [samples[i] for i in keep], [images[i] for i in keep]
        self._warn_unknown_chars(split, samples)
        augment = self.augment if split == "train" else None
        log.info("%s split: %d images", split, len(samples))
        return WordDataset(samples, self.charset, self.preprocess, augment=augment, images=images), problems

    def _warn_unknown_chars(self, split: str, samples: list[Sample]) -> None:
        """Characters the charset lacks cannot be predicted: they count as errors (eval on new data), so
        they are reported row by row but not treated as bad samples."""
        rows = [(s, sorted(self.charset.unknown(s.text))) for s in samples]
        rows = [(s, chars) for s, chars in rows if chars]
        if rows:
            lines = [f"{_where(s)}: characters outside the charset {chars}" for s, chars in rows]
            log.warning(_report(lines, f"labels in the {split} split use characters outside the charset "
                                       "(they count as errors)", limit=10))

    # ---- validation --------------------------------------------------------------------------
    def validate(self, frames: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """Report every bad row of the splits set up so far in one message (on_error=raise), or drop them
        all at once (skip; counted in `skipped`). Given the encoder's `frames` (image widths -> CTC frames),
        training labels too long for the frames their image gives are among them (CTC cannot emit those);
        in validation and test such rows are named in a warning and scored."""
        if frames is not None:
            for split in [k for k in self.datasets if k not in self._ctc_checked]:
                if split == "train":
                    self._pending[split] = self._pending.get(split, []) + self._drop_infeasible(split, frames)
                else:
                    self._warn_infeasible(split, frames)
                self._ctc_checked.add(split)
        problems = [line for split in self.datasets for line in self._pending.pop(split, [])]
        if not problems:
            return
        if self.on_error == "raise":
            raise DatasetError(_report(problems, "bad samples (data.on_error=skip skips them)"))
        log.warning(_report(problems, "samples skipped (data.on_error=skip)"))
        self.skipped += problems

    def check_ctc_feasible(self, frames: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """`validate(frames)`: what train and eval call once the model is built."""
        self.validate(frames)

    def _infeasible(self, split: str, frames: Callable[[torch.Tensor], torch.Tensor]) -> tuple[list[str], list[int]]:
        """(one line for each label that needs more CTC frames than its image gives, indices of the rest)."""
        ds = self.datasets[split]
        n_frames = frames(torch.tensor(ds.widths, dtype=torch.long)).tolist()
        problems, keep = [], []
        for i, (s, t) in enumerate(zip(ds.samples, n_frames)):
            need = min_ctc_frames(self.charset.encode(s.text))
            if need > t:
                problems.append(f"{split}: {_where(s)}: label of {len(s.text)} chars needs {need} CTC frames, "
                                f"the image gives {t} (width {ds.widths[i]} px)")
            else:
                keep.append(i)
        return problems, keep

    def _warn_infeasible(self, split: str, frames: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Validation and test keep such rows and score them: the model cannot read them in full, and
        dropping them would flatter the metrics (an image cropped to a speck, a wrong label)."""
        problems, _ = self._infeasible(split, frames)
        if problems:
            log.warning(_report(problems, f"labels in the {split} split are longer than their image's CTC frames "
                                          "allow (scored; they cannot be read in full)", limit=10))

    def _drop_infeasible(self, split: str, frames: Callable[[torch.Tensor], torch.Tensor]) -> list[str]:
        """Remove the training labels that need more CTC frames than their image gives (CTC cannot emit them)."""
        ds = self.datasets[split]
        problems, keep = self._infeasible(split, frames)
        if problems:
            self.datasets[split] = WordDataset([ds.samples[i] for i in keep], ds.charset, ds.preprocess,
                                               ds.augment, [ds.images[i] for i in keep])
        return problems

    # ---- loaders -----------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if any(self._pending.values()):  # set up but never validated: report the bad rows now
            self.validate()
        ds = self.datasets[split]
        bs = self.batch_size if shuffle else self.eval_batch_size
        sampler = BucketBatchSampler(ds.widths, bs, shuffle=shuffle, seed=self.seed)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=self.num_workers,
                          pin_memory=self.pin_memory, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def describe(self) -> str:
        """One log line: images and writers per split, charset size."""
        splits = {k: ds.samples for k, ds in self.datasets.items()}
        return f"{describe_split(splits)}; charset {len(self.charset)} chars"
