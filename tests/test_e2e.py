"""End to end through the real CLIs: train (tiny) -> checkpoint -> eval -> predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from htr_lit.train import train
from tests.helpers import TINY, compose_cfg, csv_data, write_word_png, write_writer_labels

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled"}


def run_cli(module: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=ENV,
                          timeout=300, cwd=Path(__file__).parents[1])
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    run_dir = tmp_path_factory.mktemp("run")
    run_cli("htr_lit.train", *csv_data(write_writer_labels(root)), *TINY, "trainer.max_epochs=2",
            f"hydra.run.dir={run_dir}")
    return run_dir, root


@pytest.mark.slow
def test_train_writes_checkpoints_and_metrics(trained_run):
    run_dir, _ = trained_run
    assert (run_dir / "checkpoints/best.ckpt").is_file()
    assert (run_dir / "checkpoints/last.ckpt").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # validate() after fit reloads best.ckpt (monitor val/cer, min): it scores what the curve had at that epoch
    assert [p["epoch"] for p in metrics["curve/val"]] == [1, 2]
    assert metrics["val/cer"] == pytest.approx(min(p["val/cer"] for p in metrics["curve/val"]), abs=1e-5)
    assert metrics["test/wer"] >= 1 - metrics["test/word_acc"] - 1e-6  # one word an image: a wrong word is an error
    assert metrics["params"] > 0 and metrics["epochs"] >= 1
    assert (run_dir / "csv/metrics.csv").is_file()


@pytest.mark.slow
def test_checkpoint_carries_everything_predict_needs(trained_run):
    """charset, model config, preprocessing and training texts (for the LM/lexicon decoders), loadable
    with weights_only=True (no pickled code)."""
    import torch

    run_dir, _ = trained_run
    meta = torch.load(run_dir / "checkpoints/best.ckpt", map_location="cpu", weights_only=True)["htr_lit"]
    assert meta["model_cfg"]["_target_"] == "htr_lit.models.module.HTRModule"
    assert meta["preprocess"] == {"img_height": 64, "max_width": 1024, "min_width": 16, "crop_ink": False,
                                  "crop_margin": 0.08, "contrast": False, "deslant": False}
    assert "ß" in meta["charset"] and "Straße" in meta["train_texts"]


@pytest.mark.slow
def test_eval_on_csv_shortcut(trained_run, tmp_path):
    run_dir, root = trained_run
    proc = run_cli("htr_lit.eval", f"ckpt_path={run_dir / 'checkpoints/best.ckpt'}",
                   f"test_csv={root / 'labels.csv'}", f"hydra.run.dir={tmp_path}")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) >= {"test/cer", "test/wer", "test/word_acc"}
    assert "test/cer" in proc.stdout


@pytest.mark.slow
def test_predict_prints_path_tab_text_and_reports_bad_inputs(trained_run, tmp_path):
    run_dir, root = trained_run
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes((root / "w0/0.png").read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    proc = run_cli("htr_lit.predict", f"ckpt_path={run_dir / 'checkpoints/best.ckpt'}", f"input={folder}", check=False)
    lines = proc.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(folder / "a.png"), str(folder / "b.png")]
    assert all(len(line.split("\t")) == 2 for line in lines)
    assert "broken.png" in proc.stderr and proc.returncode == 1


@pytest.mark.slow
def test_predict_unknown_checkpoint_is_a_clear_error(tmp_path):
    write_word_png(tmp_path / "word.png", "Haus")
    proc = run_cli("htr_lit.predict", f"ckpt_path={tmp_path / 'nope.ckpt'}", f"input={tmp_path}", check=False)
    assert proc.returncode != 0 and "checkpoint not found" in proc.stderr


@pytest.mark.train
def test_validation_curve_keeps_every_epoch_when_the_best_is_an_early_one(tmp_path, one_thread):
    """Validate/test after fit load the best checkpoint, which carries the callbacks' state of its epoch;
    the curve in metrics.json must still hold every epoch. The monitor here (word accuracy, minimised;
    a tiny model never reads a word) keeps epoch 1 as the best: ties do not replace it."""
    csv_path = write_writer_labels(tmp_path / "data")
    cfg = compose_cfg("train", [*csv_data(csv_path), *TINY, "trainer.max_epochs=3",
                                "callbacks.model_checkpoint.monitor=val/word_acc",
                                "callbacks.model_checkpoint.mode=min", "callbacks.early_stopping=null",
                                "logger=csv"], tmp_path / "run")
    record = train(cfg)
    assert record["best_ckpt"].endswith("best.ckpt") and record["test/word_acc"] == 0.0
    assert [p["epoch"] for p in record["curve/val"]] == [1, 2, 3]
    assert [p["step"] for p in record["curve/val"]] == [record["steps"] // 3 * k for k in (1, 2, 3)]
    assert record["val/cer"] == pytest.approx(record["curve/val"][0]["val/cer"], abs=1e-5)  # best.ckpt: epoch 1's


@pytest.mark.train
def test_debug_fast_dev_run_runs_one_batch_without_loggers(tmp_path, one_thread):
    """debug=fast_dev_run: train, validate and test one batch each, on the CPU, with no logger (so no
    callback that needs one either)."""
    cfg = compose_cfg("train", [*csv_data(write_writer_labels(tmp_path / "data")), "debug=fast_dev_run", "size=tiny"],
                      tmp_path / "run")
    record = train(cfg)
    assert record["status"] == "ok" and record["steps"] == 1
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())  # the test batch's figures reach the record
    assert saved["test/cer"] == record["test/cer"] and saved["test/wer"] == record["test/wer"]
    assert not (tmp_path / "run" / "csv").exists()
