"""pretrained_encoder: another run's encoder weights initialise a model with any sequence model and charset."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from htr_lit.checkpoint import CheckpointError, encoder_weights
from htr_lit.train import train
from tests.helpers import TINY, compose_cfg, csv_data, write_word_png, write_writer_labels


@pytest.fixture(scope="module")
def pretrained(tiny_checkpoint) -> Path:
    """A BiLSTM checkpoint with the tiny encoder (trained, so its weights are not the init)."""
    return tiny_checkpoint("bilstm")


def build(tmp_path: Path, overrides: list[str], charset: list[str]):
    cfg = compose_cfg("train", overrides, tmp_path)
    return instantiate(cfg.model, charset=charset)


def test_encoder_weights_and_bn_statistics_are_copied_and_nothing_else(pretrained, tmp_path):
    source = torch.load(pretrained, weights_only=True)["state_dict"]
    torch.manual_seed(1)
    model = build(tmp_path, ["model/sequence=dilated", *TINY], list("xyz"))
    seq_before = {k: v.clone() for k, v in model.sequence.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    weights = encoder_weights(model.encoder, pretrained)
    model.encoder.load_state_dict(weights)
    n = len(weights)
    encoder = model.encoder.state_dict()
    assert n == len(encoder) and any("running_mean" in k for k in encoder)
    for key, value in encoder.items():
        assert torch.equal(value, source[f"encoder.{key}"]), key
    # a different sequence model and charset (3 chars, not the checkpoint's) keep their own init
    assert all(torch.equal(v, seq_before[k]) for k, v in model.sequence.state_dict().items())
    assert all(torch.equal(v, head_before[k]) for k, v in model.head.state_dict().items())
    assert model.head[-1].out_features == 4


def test_an_encoder_of_other_shape_is_refused_naming_file_and_tensor(pretrained, tmp_path):
    model = build(tmp_path, [*TINY, "model.encoder.channels=[4,8,8,8,16]"], list("ab"))
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    with pytest.raises(
        CheckpointError, match=rf"{pretrained.name}.*does not fit.*shape.*\(8, 8, 3, 3\) vs \(16, 8, 3, 3\)"
    ):
        encoder_weights(model.encoder, pretrained)
    assert all(torch.equal(v, before[k]) for k, v in model.encoder.state_dict().items())  # untouched


def test_missing_file_and_checkpoint_without_encoder(tmp_path):
    model = build(tmp_path, TINY, list("ab"))
    with pytest.raises(CheckpointError, match="nope.ckpt: checkpoint not found"):
        encoder_weights(model.encoder, tmp_path / "nope.ckpt")
    torch.save({"state_dict": {"head.1.weight": torch.zeros(2, 2)}}, tmp_path / "head_only.ckpt")
    with pytest.raises(CheckpointError, match="head_only.ckpt: .*no 'encoder.\\*' weights"):
        encoder_weights(model.encoder, tmp_path / "head_only.ckpt")


def tiny_run(csv_path: Path, extra: list[str]) -> list[str]:
    return [
        *csv_data(csv_path),
        *TINY,
        "model/sequence=cnn_only",
        "data.img_height=32",
        "logger=csv",
        "trainer.fast_dev_run=true",
        *extra,
    ]


@pytest.mark.train
def test_train_starts_from_the_pretrained_encoder_and_records_it(pretrained, tmp_path, one_thread, caplog):
    csv_path = write_writer_labels(tmp_path / "data", height=32)
    cfg = compose_cfg("train", tiny_run(csv_path, [f"pretrained_encoder={pretrained}"]), tmp_path / "run")
    with caplog.at_level(logging.INFO, logger="htr_lit.train"):
        record = train(cfg)
    assert f"encoder initialised from {pretrained} (" in caplog.text
    assert record["status"] == "ok" and record["config"]["pretrained_encoder"] == str(pretrained)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["config"]["pretrained_encoder"] == str(pretrained)


@pytest.mark.train
def test_train_fails_on_an_unfitting_encoder_before_loading_data(pretrained, tmp_path):
    missing_csv = tmp_path / "no_such_labels.csv"  # data would fail too, but the encoder check comes first
    overrides = tiny_run(missing_csv, [f"pretrained_encoder={pretrained}", "model.encoder.channels=[4,8,8,8,16]"])
    with pytest.raises(CheckpointError, match="does not fit this model's encoder"):
        train(compose_cfg("train", overrides, tmp_path / "run"))


@pytest.mark.train
def test_a_few_words_with_a_recognizer_say_which_characters_are_lost(pretrained, tmp_path, one_thread, caplog):
    lines = ["file_name,text,writer_id"]
    for w in range(3):
        for i, text in enumerate(["Haus", "Nord", "test"]):
            write_word_png(tmp_path / "data" / f"w{w}" / f"{i}.png", text, height=32)
            lines.append(f"w{w}/{i}.png,{text},w{w}")
    (tmp_path / "data" / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = compose_cfg("train", tiny_run(tmp_path / "data" / "labels.csv", [f"pretrained_encoder={pretrained}"]),
                      tmp_path / "run")
    with caplog.at_level(logging.WARNING, logger="htr_lit.train"):
        train(cfg)
    assert "the charset is built from the 3 training words" in caplog.text
    assert "htr-adapt labels=LABELS.csv" in caplog.text and "ü" in caplog.text
