"""eval and inspect warn in one line when the test rows include writers or images the checkpoint trained on:
from the record new checkpoints carry, and for the shipped recognizers (trained on all of DHSD, no record)
from DHSD's labels.csv."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from htr_lit.assets import MODELS_DIR
from htr_lit.checkpoint import build_meta, read_checkpoint, read_meta
from htr_lit.data.formats import read_labels_csv
from htr_lit.data.overlap import image_key, known_training, overlap_warning, training_record, writer_key
from htr_lit.data.preprocess import Preprocess
from tests.helpers import TINY, compose_cfg, write_writer_labels

SAMPLE = Path(__file__).parent / "data" / "dhsd_sample"  # 18 real DHSD words, DHSD's own relative paths


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """tmp/dhsd/labels.csv: 3 writers (w0, w1, w2) x 10 words."""
    return write_writer_labels(tmp_path / "dhsd")


def test_keys_are_dataset_relative_and_carry_no_machine_path(dataset):
    sample = read_labels_csv(dataset)[0]
    assert image_key(sample) == "w0/0.png"
    assert writer_key(sample) == "dhsd:w0"  # the dataset folder's name: writer ids repeat across datasets


@pytest.mark.train
def test_a_new_checkpoint_records_its_training_split_and_reads_it_back(dataset, tmp_path):
    train = [s for s in read_labels_csv(dataset) if s.writer_id != "w2"]
    meta = build_meta({"_target_": "x"}, ["a"], Preprocess(), [s.text for s in train], train_samples=train)
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": {}, "htr_lit": meta}, path)
    back = read_meta(read_checkpoint(path), path)  # weights_only: the record is plain lists and a tensor
    assert back["train_writers"] == ["dhsd:w0", "dhsd:w1"]
    assert len(back["train_images"]) == 20
    assert "train_writers" not in build_meta({}, ["a"], Preprocess(), [])  # no samples given: no record


def test_the_warning_counts_shared_writers_and_images(dataset, tmp_path):
    samples = read_labels_csv(dataset)
    meta = training_record(s for s in samples if s.writer_id == "w0")
    test = [s for s in samples if s.writer_id in ("w0", "w1")]
    line = overlap_warning(meta, "runs/best.ckpt", test)
    assert line.startswith("the test set shares 1 of its 2 writers (w0) and 10 of its 20 images with the "
                           "training data of best.ckpt: these scores are not those of unseen writers")
    assert "\n" not in line
    assert overlap_warning(meta, "best.ckpt", [s for s in samples if s.writer_id == "w2"]) is None
    # A copy of the dataset in another folder: the same images (same relative paths), writer ids not compared.
    copy = tmp_path / "copy"
    shutil.copytree(dataset.parent, copy)
    line = overlap_warning(meta, "best.ckpt", [s for s in read_labels_csv(copy / "labels.csv") if s.writer_id == "w0"])
    assert line.startswith("the test set shares 10 of its 10 images with")


def test_a_checkpoint_without_a_record_gives_no_warning(dataset):
    assert known_training({}, "old.ckpt", dataset.parent) is None
    assert overlap_warning({}, "old.ckpt", read_labels_csv(dataset)) is None


def test_the_shipped_recognizers_count_as_trained_on_every_dhsd_row(tmp_path):
    test = read_labels_csv(SAMPLE / "labels.csv")
    for name in ("recognizer", "recognizer_separable"):
        line = overlap_warning({}, MODELS_DIR / f"{name}.ckpt", test, dhsd_dir=SAMPLE)
        assert line and f"{len(test)} of its {len(test)} images" in line and f"{name}.ckpt" in line
    assert overlap_warning({}, MODELS_DIR / "pretrained.ckpt", test, dhsd_dir=SAMPLE) is None  # synthetic only
    assert overlap_warning({}, MODELS_DIR / "recognizer.ckpt", test, dhsd_dir=tmp_path) is None  # no DHSD here


def test_eval_without_a_checkpoint_on_dhsd_rows_warns(tmp_path, caplog):
    """`htr-eval` on DHSD rows scores the shipped recognizer on words it trained on: one warning line."""
    from htr_lit.eval import evaluate

    cfg = compose_cfg("eval", [f"test_csv={SAMPLE / 'labels.csv'}", f"paths.dhsd_dir={SAMPLE}",
                               "+trainer.enable_progress_bar=false", "data.num_workers=0"], tmp_path)
    with caplog.at_level(logging.WARNING, logger="htr_lit.eval"):
        evaluate(cfg)
    says = "training data of recognizer_separable.ckpt"
    warnings = [r.getMessage() for r in caplog.records if says in r.getMessage()]
    assert len(warnings) == 1 and "18 of its 18 images" in warnings[0]


@pytest.mark.slow
def test_a_trained_checkpoint_warns_eval_and_inspect_about_its_own_training_rows(dataset, tmp_path, caplog):
    from htr_lit.eval import evaluate
    from htr_lit.inspect import inspect
    from htr_lit.train import train

    data = [f"data.source.csv_path={dataset}", "data=csv", "data.source.val_fraction=0.34",
            "data.source.test_fraction=0.34"]
    record = train(compose_cfg("train", [*TINY, *data], tmp_path / "run"))
    ckpt = record["best_ckpt"]
    assert read_meta(read_checkpoint(ckpt), ckpt)["train_writers"]
    with caplog.at_level(logging.WARNING):
        evaluate(compose_cfg("eval", [f"ckpt_path={ckpt}", f"test_csv={dataset}", "+trainer.enable_progress_bar=false",
                                      "data.num_workers=0"], tmp_path / "eval"))
        inspect(compose_cfg("inspect", [f"ckpt_path={ckpt}", f"test_csv={dataset}", f"out={tmp_path / 'i.html'}"],
                            tmp_path / "inspect"))
    lines = [r.getMessage() for r in caplog.records if "training data of" in r.getMessage()]
    assert len(lines) == 2 and all("of its 3 writers" in line for line in lines), lines
    assert "these scores are not those of unseen writers" in (tmp_path / "i.html").read_text(encoding="utf-8")
