"""Datamodule: writer splits, batch shapes and lengths, charset, CTC feasibility, bucketing (bad inputs:
test_bad_inputs.py)."""

from __future__ import annotations

import pytest
import torch

from htr_lit.data.datamodule import DatasetError, HTRDataModule
from htr_lit.data.sampler import BucketBatchSampler
from htr_lit.data.sources import LabelsCSVSource


def make_dm(csv_path, **kwargs) -> HTRDataModule:
    source = LabelsCSVSource(csv_path=str(csv_path), val_fraction=0.34, test_fraction=0.34)
    args = dict(img_height=32, batch_size=4, eval_batch_size=4, num_workers=0, augment="none") | kwargs
    return HTRDataModule(source, **args)


def test_batches_have_padded_images_and_true_lengths(csv_dataset):
    dm = make_dm(csv_dataset)
    dm.setup("fit")
    assert {len(dm.datasets["train"]), len(dm.datasets["val"])} == {10}
    writers = {split: {s.writer_id for s in ds.samples} for split, ds in dm.datasets.items()}
    assert not writers["train"] & writers["val"]
    assert dm.describe() == ("train 10 images / 1 writers, val 10 images / 1 writers, test 10 images / 1 writers; "
                             f"charset {len(dm.charset)} chars")
    batch = next(iter(dm.train_dataloader()))
    B = len(batch["texts"])
    assert batch["images"].shape[:3] == (B, 1, 32)
    assert batch["images"].shape[3] == batch["widths"].max()
    assert batch["target_lengths"].tolist() == [len(dm.charset.encode(t)) for t in batch["texts"]]
    assert batch["targets"].numel() == batch["target_lengths"].sum()
    assert batch["targets"].min() >= 1  # 0 is the CTC blank
    for i, w in enumerate(batch["widths"].tolist()):  # padding is paper (0)
        assert batch["images"][i, :, :, w:].abs().sum() == 0


def test_charset_from_train_and_unknown_chars_do_not_crash(csv_dataset):
    dm = make_dm(csv_dataset, charset=list("abc"))
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert all(t >= 1 for t in batch["targets"].tolist())
    assert len(batch["texts"]) == 4


def test_label_too_long_for_ctc_frames_is_named(csv_dataset):
    dm = make_dm(csv_dataset)
    dm.setup("fit")
    with pytest.raises(DatasetError, match="needs .* CTC frames"):
        dm.check_ctc_feasible(lambda w: torch.div(w, 64, rounding_mode="floor"))


def test_bucket_sampler_covers_every_index_once_and_groups_widths():
    widths = [(i * 37) % 300 + 10 for i in range(200)]
    sampler = BucketBatchSampler(widths, batch_size=8, shuffle=True, seed=1, pool_batches=5)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(200))
    spread = sum(max(widths[i] for i in b) - min(widths[i] for i in b) for b in batches) / len(batches)
    assert spread < 60  # random batches would spread ~250 px
    sampler.set_epoch(1)
    assert list(sampler) != batches
    sampler.set_epoch(0)
    assert list(sampler) == batches


def test_eval_sampler_is_sorted_and_deterministic():
    widths = [50, 10, 30, 20]
    assert list(BucketBatchSampler(widths, batch_size=2, shuffle=False)) == [[1, 3], [2, 0]]
