"""Every kind of bad dataset input gets one clear message naming the file, the row and the reason.

data.on_error=raise (default) stops before training with one message listing every bad row (labels too
long for their image's CTC frames included); data.on_error=skip drops them all in the same pass, logs them
and counts them (`data/skipped` in metrics.json).
The same holds for `eval test_csv=PATH`. Bad model overrides fail before any data is read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from hydra.errors import InstantiationException, MissingConfigException
from PIL import Image

from htr_lit.data import preprocess
from htr_lit.data.datamodule import DatasetError, HTRDataModule
from htr_lit.data.formats import DatasetFormatError
from htr_lit.data.sources import LabelsCSVSource
from htr_lit.eval import evaluate
from htr_lit.train import train
from tests.helpers import TINY, WORDS, compose_cfg, write_word_png

HEADER = "file_name,text\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A dataset folder with 10 good images (rows 2..11 of labels.csv); tests append bad rows."""
    root = tmp_path / "data"
    for i, text in enumerate(WORDS):
        write_word_png(root / f"img/{i}.png", text)
    rows = "".join(f"img/{i}.png,{text}\n" for i, text in enumerate(WORDS))
    (root / "labels.csv").write_text(HEADER + rows, encoding="utf-8")
    return root


def add_rows(root: Path, *rows: str) -> list[str]:
    """Append rows to labels.csv; returns how each is named in messages (``/abs/labels.csv:LINE``)."""
    csv_path = root / "labels.csv"
    n = len(csv_path.read_text(encoding="utf-8").splitlines())
    with csv_path.open("a", encoding="utf-8") as f:
        f.writelines(r + "\n" for r in rows)
    return [f"{csv_path}:{n + 1 + i}" for i in range(len(rows))]


def frames_of(width_factor: int):
    """An encoder's frames function: one CTC frame per `width_factor` pixels of width."""
    return lambda widths: torch.div(widths, width_factor, rounding_mode="floor")


def setup_dm(root: Path, frames=None, **kwargs) -> HTRDataModule:
    """Every row in the test split (as `eval test_csv=` reads it) with a fixed charset, set up and validated
    the way eval does it (`check_ctc_feasible` with the encoder's frames, here `frames` or none)."""
    args = dict(img_height=32, num_workers=0, augment="none", charset=sorted({c for w in WORDS for c in w}))
    dm = HTRDataModule(LabelsCSVSource(test_csv=str(root / "labels.csv")), **(args | kwargs))
    dm.setup("test")
    dm.validate(frames)
    return dm


def error_of(root: Path, frames=None) -> str:
    with pytest.raises(DatasetError) as info:
        setup_dm(root, frames)
    return str(info.value)


def test_missing_image_file(data):
    (row,) = add_rows(data, "img/nope.png,Haus")
    msg = error_of(data)
    assert f"{row}: {data / 'img/nope.png'}: file not found" in msg


def test_corrupt_image(data):
    (data / "img/bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (row,) = add_rows(data, "img/bad.png,Haus")
    msg = error_of(data)
    assert f"{row}: {data / 'img/bad.png'}: cannot decode image" in msg


def test_truncated_png(data):
    whole = (data / "img/1.png").read_bytes()
    (data / "img/cut.png").write_bytes(whole[: len(whole) // 2])
    (row,) = add_rows(data, "img/cut.png,Straße")
    msg = error_of(data)
    assert f"{row}: {data / 'img/cut.png'}: cannot decode image" in msg and "truncated" in msg


def test_zero_byte_image(data):
    (data / "img/empty.png").write_bytes(b"")
    (row,) = add_rows(data, "img/empty.png,Haus")
    assert f"{row}: {data / 'img/empty.png'}: empty file (0 bytes)" in error_of(data)


def test_one_pixel_image(data):
    Image.new("L", (1, 1), 0).save(data / "img/dot.png")
    (row,) = add_rows(data, "img/dot.png,Haus")
    assert f"{row}: {data / 'img/dot.png'}: image is 1x1 pixels, too small to read" in error_of(data)


def test_enormous_image_is_not_decoded(data, monkeypatch):
    monkeypatch.setattr(preprocess, "MAX_DECODE_PIXELS", 5000)  # the real cap is 40 M pixels
    Image.new("L", (200, 40), 255).save(data / "img/huge.png")
    (row,) = add_rows(data, "img/huge.png,Haus")
    msg = error_of(data)
    assert f"{row}: {data / 'img/huge.png'}: image is 200x40, over the 5000 pixel cap" in msg


def test_labels_file_not_utf8(data):
    csv_path = data / "labels.csv"
    csv_path.write_bytes(csv_path.read_bytes() + "img/0.png,Stra\xdfe\n".encode("latin-1"))
    with pytest.raises(DatasetFormatError, match=rf"{csv_path}:12: not valid UTF-8: byte 0xdf"):
        setup_dm(data)


def test_labels_file_malformed_csv(data):
    add_rows(data, 'img/0.png,"unclosed')
    with pytest.raises(DatasetFormatError, match=rf"{data / 'labels.csv'}:12: CSV syntax error"):
        setup_dm(data)


def test_labels_file_missing_column(data):
    (data / "labels.csv").write_text("file_name,transcription\nimg/0.png,Haus\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:1: missing required column\(s\) \['text'\]"):
        setup_dm(data)


def test_row_with_wrong_field_count(data):
    (row,) = add_rows(data, "img/0.png,Haus,extra")
    assert f"{row}: row has 3 field(s) but the header has 2" in error_of(data)


def test_empty_transcription(data):
    (row,) = add_rows(data, "img/0.png,  ")
    assert f"{row}: {data / 'img/0.png'}: empty transcription" in error_of(data)


@pytest.mark.parametrize("file_name", ["../outside.png", "img/../../outside.png", "/etc/passwd"])
def test_file_name_outside_the_dataset_folder(data, file_name):
    write_word_png(data.parent / "outside.png", "Haus")  # exists, but must not be reachable
    (row,) = add_rows(data, f"{file_name},Haus")
    assert f"{row}: file_name '{file_name}' points outside the dataset folder {data}" in error_of(data)


def test_characters_outside_the_charset_are_named_per_row(data, caplog):
    (row,) = add_rows(data, "img/0.png,Haus€")
    with caplog.at_level(logging.WARNING, logger="htr_lit.data.datamodule"):
        dm = setup_dm(data)  # not a bad sample: an unseen character counts as an error at evaluation
    assert f"{row}: {data / 'img/0.png'}: characters outside the charset ['€']" in caplog.text
    assert len(dm.datasets["test"]) == 11


@pytest.mark.train
def test_label_too_long_for_the_ctc_frames(data, caplog):
    """Training cannot use it (CTC cannot emit the label): a bad row. Evaluation scores it: the row is
    named in a warning and kept, as dropping it would flatter the metrics."""
    write_word_png(data / "img/short.png", "ab")  # 40 px wide -> 10 frames at a width factor of 4
    (row,) = add_rows(data, "img/short.png,StraßeStraßeStraße")
    line = f"{row}: {data / 'img/short.png'}: label of 18 chars needs 18 CTC frames, the image gives 10 (width 40 px)"
    with caplog.at_level(logging.WARNING, logger="htr_lit.data.datamodule"):
        dm = setup_dm(data, frames_of(4))
    assert line in caplog.text and "scored" in caplog.text
    assert len(dm.datasets["test"]) == 11 and not dm.skipped
    train = HTRDataModule(LabelsCSVSource(train_csv=str(data / "labels.csv")), img_height=32, num_workers=0,
                          augment="none", charset=sorted({c for w in WORDS for c in w}))
    train.setup("fit")
    with pytest.raises(DatasetError) as info:
        train.check_ctc_feasible(frames_of(4))
    assert f"train: {line}" in str(info.value)


def test_every_kind_of_bad_row_is_found_in_one_pass(data):
    """Missing file, unreadable image, empty text and a label too long for its image's CTC frames: one
    message names the row and file of each; with skip all four go in the same pass (train/eval call
    `check_ctc_feasible(model.encoder.frames)` after setup; only training drops the too-long label)."""
    (data / "img/bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    write_word_png(data / "img/short.png", "ab")  # 40 px wide -> 10 frames at a width factor of 4
    rows = add_rows(data, "img/nope.png,Haus", "img/bad.png,Haus", "img/2.png,", "img/short.png,StraßeStraßeStraße")
    reasons = ["file not found", "cannot decode image", "empty transcription", "label of 18 chars needs 18 CTC"]
    named = [f"{row}: {data / name}: {reason}" for row, name, reason in
             zip(rows, ["img/nope.png", "img/bad.png", "img/2.png", "img/short.png"], reasons)]

    def train_dm(**kwargs) -> HTRDataModule:
        dm = HTRDataModule(LabelsCSVSource(train_csv=str(data / "labels.csv")), img_height=32, num_workers=0,
                           augment="none", charset=sorted({c for w in WORDS for c in w}), **kwargs)
        dm.setup("fit")
        return dm

    dm = train_dm()
    with pytest.raises(DatasetError) as info:
        dm.check_ctc_feasible(frames_of(4))
    msg = str(info.value)
    assert msg.startswith("4 bad samples (data.on_error=skip skips them)")
    assert all(line in msg for line in named), msg
    dm = train_dm(on_error="skip")
    dm.check_ctc_feasible(frames_of(4))
    assert len(dm.skipped) == 4 and all(any(line in s for s in dm.skipped) for line in named)
    assert len(dm.datasets["train"]) == 10
    dm.check_ctc_feasible(frames_of(4))  # nothing left to find: no second pass
    assert len(dm.skipped) == 4 and len(dm.datasets["train"]) == 10
    dm = setup_dm(data, frames_of(4), on_error="skip")  # evaluation: three bad rows, the long label scored
    assert len(dm.skipped) == 3 and len(dm.datasets["test"]) == 11


def test_raise_lists_every_bad_row_in_one_message_and_skip_drops_them(data):
    (data / "img/empty.png").write_bytes(b"")
    rows = add_rows(data, "img/nope.png,a", "img/empty.png,b", "img/0.png,", "../x.png,c", "img/1.png,d,e")
    msg = error_of(data)
    assert msg.startswith("5 bad samples (data.on_error=skip skips them)")
    assert all(row in msg for row in rows)
    dm = setup_dm(data, on_error="skip")
    assert len(dm.skipped) == 5 and all(any(row in s for s in dm.skipped) for row in rows)
    assert len(dm.datasets["test"]) == 10


def test_training_split_errors_name_every_split(tmp_path, csv_dataset):
    """Train validates train, val and test up front: one message for bad rows in any of them, or all of
    them skipped."""
    (csv_dataset.parent / "images/w0/3.png").write_bytes(b"")
    (csv_dataset.parent / "images/w2/5.png").unlink()
    source = LabelsCSVSource(csv_path=str(csv_dataset), val_fraction=0.34, test_fraction=0.34)
    dm = HTRDataModule(source, img_height=32, num_workers=0, augment="none")
    dm.setup("fit")
    with pytest.raises(DatasetError) as info:
        dm.validate()
    msg = str(info.value)
    assert msg.startswith("2 bad samples") and "3.png: empty file" in msg and "5.png: file not found" in msg
    dm = HTRDataModule(source, img_height=32, num_workers=0, augment="none", on_error="skip")
    dm.setup("fit")
    next(iter(dm.train_dataloader()))  # never validated: the first loader reports (here skips) the bad rows
    assert len(dm.skipped) == 2 and sum(len(ds) for ds in dm.datasets.values()) == 28


# ------------------------------------------------------------------------------------ eval test_csv=PATH


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint()


def eval_cfg(ckpt: Path, csv_path: Path, out: Path, *overrides: str):
    return compose_cfg("eval", [f"ckpt_path={ckpt}", f"test_csv={csv_path}", "data.num_workers=0",
                                "data.eval_batch_size=4", "+trainer.enable_progress_bar=false", *overrides], out)


def test_eval_test_csv_raises_naming_rows_or_skips_and_counts(ckpt, data, tmp_path):
    rows = add_rows(data, "img/nope.png,Haus", "../x.png,Haus")
    with pytest.raises(DatasetError) as info:
        evaluate(eval_cfg(ckpt, data / "labels.csv", tmp_path))
    assert all(row in str(info.value) for row in rows)
    metrics = evaluate(eval_cfg(ckpt, data / "labels.csv", tmp_path, "data.on_error=skip"))
    assert metrics["data/skipped"] == 2
    assert json.loads((tmp_path / "metrics.json").read_text())["data/skipped"] == 2


# ------------------------------------------------------------------------------------ config errors


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model/sequence=dilated", "model.sequence.rates=[1,-2,4]"], "rates must be a non-empty list of ints >= 1"),
        (["model/sequence=dilated", "model.sequence.num_blocks=0"], "num_blocks must be >= 1, got 0"),
        (["model/sequence=tcn", "model.sequence.num_blocks=0"], "num_blocks must be >= 1, got 0"),
        (["data.img_height=48"], "image height 48 cannot go through pooling of total height factor 32"),
    ],
)
@pytest.mark.train
def test_bad_model_override_fails_before_any_data_loads(tmp_path, overrides, message):
    # The data source points at a file that does not exist: a data error would mean data loaded first.
    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={tmp_path / 'missing.csv'}", *TINY,
                                *overrides], tmp_path)
    with pytest.raises(InstantiationException, match=message):
        train(cfg)


def test_unknown_encoder_lists_the_options(tmp_path):
    with pytest.raises(MissingConfigException) as info:
        compose_cfg("train", ["model/encoder=resnet"], tmp_path)
    assert "resnet" in str(info.value) and all(o in str(info.value) for o in ("compact", "simple", "vgg"))
