"""Predictions in the trackers (htr_lit.runs.prediction_samples): a tiny run's TensorBoard event file and offline
W&B run are read back, and the words, images and predictions are found in them."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.trainer.states import TrainerFn
from PIL import Image

from htr_lit.runs.prediction_samples import PredictionSamples
from htr_lit.runs.runner import run_task
from htr_lit.runs.sample_writers import markdown_cell, markdown_table
from htr_lit.train import train
from tests.helpers import TINY, WORDS, compose_cfg, csv_data, write_writer_labels

RUN = ["callbacks.progress_bar=null", "trainer.num_sanity_val_steps=1"]  # a sanity pass that must log nothing


def tiny_run(tmp_path: Path, *overrides: str) -> tuple[dict, Path]:
    """A tiny run on 3 writers x WORDS (validation: one writer's 10 words); returns its record and folder."""
    run_dir = tmp_path / "run"
    cfg = compose_cfg("train", [*csv_data(write_writer_labels(tmp_path / "data", height=32)), *TINY, *RUN,
                                *overrides], run_dir)
    return run_task(train, cfg), run_dir


def corpus_cer(rows: list[tuple[str, float]]) -> float:
    """Per-word CERs back to the corpus CER: sum of edits / sum of truth lengths."""
    return sum(cer * len(truth) for truth, cer in rows) / sum(len(truth) for truth, _ in rows)


@pytest.mark.train
def test_tensorboard_event_file_holds_each_word_image_and_a_truth_prediction_table(tmp_path, one_thread):
    """every_n_epochs=2 over 2 epochs: one logged pass, at the last step (not epoch 1, not the sanity pass)."""
    from tensorboard.backend.event_processing.event_accumulator import IMAGES, TENSORS, EventAccumulator

    record, run_dir = tiny_run(tmp_path, "logger=tensorboard", "trainer.max_epochs=2",
                               "callbacks.prediction_samples.every_n_epochs=2")
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={IMAGES: 0, TENSORS: 0})
    acc.Reload()  # the fit's event file (validate/test after fit write their own, without samples)
    tags = acc.Tags()
    image_tags = [t for t in tags["images"] if t.startswith("val/predictions/")]
    assert sorted(t.split(" ", 1)[1] for t in image_tags) == sorted(WORDS)  # the 10 validation words
    for tag in image_tags:
        (event,) = acc.Images(tag)
        assert event.step == record["steps"]
        img = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))  # (H, W) uint8
        assert img.shape[0] == event.height == 64 and img.shape[1] == event.width  # data.img_height
        assert img.mean() > 128 and img.min() < 100  # white paper, dark ink: as a reader sees it
    (text,) = acc.Tensors("val/predictions/text_summary")
    assert text.step == record["steps"]
    table = text.tensor_proto.string_val[0].decode()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [r[0] for r in rows] == [f"| {i}" for i in range(10)]
    assert {r[1] for r in rows} == {markdown_cell(w) for w in WORDS}
    assert [r[1] for r in rows] == [t.split(" ", 1)[1] for t in sorted(image_tags)]  # row i is image i


def wandb_records(path: Path):
    """The protobuf records of a `.wandb` file (a LevelDB-style log: 7-byte file header, 32 KiB blocks of
    chunks with a 7-byte header: crc32, length, type 1 full / 2 first / 3 middle / 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if pos + 7 + length > len(data):  # a chunk still being written
            return
        buf = data[pos + 7:pos + 7 + length] if kind in (1, 2) else buf + data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buf)
            yield record


def finished_run_records(path: Path, timeout_s: float = 60.0) -> list:
    """The records once the run's `exit` record is in: wandb-core may still be writing the file when
    `wandb.finish()` returns."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = list(wandb_records(path))
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


@pytest.mark.slow  # a training, and wandb starts its service process (seconds)
def test_offline_wandb_run_holds_a_table_of_images_truths_and_predictions(tmp_path, one_thread, monkeypatch):
    """What `wandb sync` would upload: the history row of val/predictions (a table at the trainer's step) and
    the run_table artifact with the table JSON and one PNG per word. The CSV log's val_predictions.csv holds
    the same rows, and their CERs add up to the run's val/cer (the logged predictions are the model's)."""
    for var, sub in (("WANDB_DIR", "wandb"), ("WANDB_DATA_DIR", "wandb_data"), ("WANDB_CACHE_DIR", "wandb_cache"),
                     ("WANDB_CONFIG_DIR", "wandb_config")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    record, run_dir = tiny_run(tmp_path, "logger=wandb")
    assert record["status"] == "ok"
    (run_file,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    history, artifacts = [], []
    for r in finished_run_records(run_file):
        if r.WhichOneof("record_type") == "history":
            history.append({it.key or "/".join(it.nested_key): json.loads(it.value_json) for it in r.history.item})
        elif r.WhichOneof("record_type") == "artifact" and r.artifact.type == "run_table":
            artifacts.append({e.path: Path(e.local_path) for e in r.artifact.manifest.contents})
    (row,) = [h for h in history if "val/predictions/_type" in h]
    assert row["val/predictions/_type"] == "table-file" and row["trainer/global_step"] == record["steps"]
    assert row["val/predictions/nrows"] == 10
    (files,) = artifacts
    table = json.loads(files["val/predictions.table.json"].read_text(encoding="utf-8"))
    assert table["columns"] == ["image", "truth", "prediction", "cer", "id"]
    assert sorted(r[1] for r in table["data"]) == sorted(WORDS)
    for image, truth, prediction, _, _ in table["data"]:
        assert image["_type"] == "image-file" and image["caption"] == f"{truth} -> {prediction}"
        assert Image.open(files[image["path"]]).size == (image["width"], 64)

    with (run_dir / "csv" / "val_predictions.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["truth"], r["prediction"], r["id"]) for r in rows] == [tuple(r[1:3]) + (r[4],) for r in table["data"]]
    assert {r["step"] for r in rows} == {str(record["steps"])}
    # one epoch: the best checkpoint that validate() scores is the epoch the samples came from
    assert corpus_cer([(r["truth"], float(r["cer"])) for r in rows]) == pytest.approx(record["val/cer"], abs=1e-6)


@pytest.mark.train
def test_fast_dev_run_with_a_logger_runs_and_logs_no_samples(tmp_path, one_thread):
    """fast_dev_run swaps the trainer's loggers for a DummyLogger: the callback has nowhere to write and stays
    quiet (train() still logs the hyper-parameters and model size to the logger it built)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record, run_dir = tiny_run(tmp_path, "logger=tensorboard", "trainer.fast_dev_run=true")
    assert record["status"] == "ok" and record["steps"] == 1
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    assert "model/params" in acc.Tags()["scalars"]  # the file is read
    assert acc.Tags()["images"] == [] and acc.Tags()["tensors"] == []


# ---- the callback alone, on a stand-in trainer, module and batches ----

def batch(texts: list[str], width: int = 12) -> dict:
    images = torch.zeros(len(texts), 1, 8, width)  # (B, 1, H, W), ink 1 / paper 0
    images[:, :, 2:6, 1:4] = 1.0
    return {"images": images, "widths": torch.full((len(texts),), width - 2), "texts": texts,
            "ids": [f"id-{t}" for t in texts]}


class EchoModule:
    """Stands in for HTRModule when validation_step returns nothing: 'decodes' every image as 'x'."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        return torch.zeros(len(images), 3, 2), widths

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        return ["x"] * len(log_probs)


def stand_in_trainer(tmp_path: Path, **kw) -> SimpleNamespace:
    return SimpleNamespace(**{"is_global_zero": True, "sanity_checking": False, "current_epoch": 0,
                              "global_step": 7, "state": SimpleNamespace(fn=TrainerFn.FITTING),
                              "loggers": [CSVLogger(tmp_path, name="csv", version="")], **kw})


def one_pass(cb: PredictionSamples, trainer: SimpleNamespace, module: EchoModule | None = None) -> None:
    """A validation pass of 3 batches: the first returns predictions, the others none (decoded by the callback)."""
    module = module or EchoModule()
    cb.on_validation_epoch_start(trainer, module)
    cb.on_validation_batch_end(trainer, module, {"preds": ["Hau", "wrd"]}, batch(["Haus", "word"]), 0)
    cb.on_validation_batch_end(trainer, module, None, batch(["test", "Nord"]), 1)
    cb.on_validation_batch_end(trainer, module, None, batch(["apple"]), 2)
    cb.on_validation_epoch_end(trainer, module)


def read_rows(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "csv" / "val_predictions.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_first_n_words_with_their_own_or_decoded_predictions(tmp_path):
    module = EchoModule()
    one_pass(PredictionSamples(num_samples=3), stand_in_trainer(tmp_path), module)
    rows = read_rows(tmp_path)
    assert [(r["truth"], r["prediction"], r["cer"]) for r in rows] == [("Haus", "Hau", "0.25"), ("word", "wrd", "0.25"),
                                                                      ("test", "x", "1.0")]
    assert {(r["epoch"], r["step"]) for r in rows} == {("1", "7")} and rows[0]["id"] == "id-Haus"
    assert module.calls == 1  # batch 1 decoded once (its first image only); batch 2 not at all


@pytest.mark.parametrize("state", [{"is_global_zero": False}, {"sanity_checking": True}, {"current_epoch": 2},
                                   {"state": SimpleNamespace(fn=TrainerFn.VALIDATING)}, {"loggers": []}])
def test_nothing_is_collected_or_logged_off_rank_zero_in_sanity_checks_off_epoch_or_outside_fit(tmp_path, state):
    """DDP rank 1, the sanity pass, epoch 3 with every_n_epochs=2, trainer.validate(), no logger with a writer."""
    module = EchoModule()
    one_pass(PredictionSamples(num_samples=3, every_n_epochs=2), stand_in_trainer(tmp_path, **state), module)
    assert module.calls == 0
    assert read_rows(tmp_path) == []


def test_every_pass_appends_its_rows_and_num_samples_zero_is_off(tmp_path):
    cb = PredictionSamples(num_samples=2)
    one_pass(cb, stand_in_trainer(tmp_path))
    one_pass(cb, stand_in_trainer(tmp_path, current_epoch=1, global_step=14))
    assert [(r["epoch"], r["truth"]) for r in read_rows(tmp_path)] == [("1", "Haus"), ("1", "word"), ("2", "Haus"),
                                                                        ("2", "word")]
    one_pass(PredictionSamples(num_samples=0), stand_in_trainer(tmp_path / "off"))
    assert read_rows(tmp_path / "off") == []
    with pytest.raises(ValueError, match="every_n_epochs"):
        PredictionSamples(every_n_epochs=0)


def test_markdown_table_shows_texts_literally():
    assert markdown_cell("a|b_c*") == r"a\|b\_c\*"
    samples = [SimpleNamespace(truth="x|y", prediction="", cer=1.0),
               SimpleNamespace(truth="a", prediction="(empty)", cer=7.0)]
    assert markdown_table(samples, epoch=3).splitlines()[-2:] == [r"| 0 | x\|y | *(empty)* | 1.000 |",
                                                                  r"| 1 | a | \(empty\) | 7.000 |"]


@pytest.mark.slow
def test_two_process_ddp_logs_rank_zeros_words_once(tmp_path):
    """trainer=ddp_cpu, 2 gloo processes: the run finishes and one event file holds rank 0's share of the
    validation words (its batches of the sharded val loader), each logged once."""
    from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = [*csv_data(write_writer_labels(tmp_path / "data", height=32)), *TINY, *RUN, "logger=tensorboard",
            "trainer=ddp_cpu", "trainer.devices=2", "data.eval_batch_size=2", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([sys.executable, "-m", "htr_lit.train", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={IMAGES: 0})
    acc.Reload()
    tags = [t for t in acc.Tags()["images"] if t.startswith("val/predictions/")]
    assert len(tags) == 6  # 10 words in 5 batches of 2: rank 0 validates batches 0, 2 and 4
    assert {t.split(" ", 1)[1] for t in tags} < set(WORDS) and all(len(acc.Images(t)) == 1 for t in tags)
