"""Kill -9 mid-epoch, rerun with resume=true: the same run finishes with all its epochs, metrics continuing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from htr_lit.checkpoint import CheckpointError
from htr_lit.runs.resume import resolve_ckpt_path
from tests.helpers import TINY, csv_data, write_writer_labels

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
EPOCHS, STEPS_PER_EPOCH = 3, 10  # 10 training images, batch size 1


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return write_writer_labels(tmp_path / "data", height=32)


def train_cmd(labels: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "htr_lit.train", *csv_data(labels), *TINY, "data.img_height=32",
            "data.batch_size=1", f"trainer.max_epochs={EPOCHS}",
            "callbacks.last_checkpoint.every_n_train_steps=1", "callbacks.progress_bar=null",
            f"hydra.run.dir={run_dir}", *extra]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_completes_the_same_run(labels, tmp_path):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints/last.ckpt"
    proc = subprocess.Popen(train_cmd(labels, run_dir, "resume=true"), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # as soon as the first mid-epoch last.ckpt is there
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-3000:]
    # the start record says the run never finished
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"
    killed_at = torch.load(last, map_location="cpu", weights_only=True)
    assert killed_at["epoch"] == 0 and 0 < killed_at["global_step"] < STEPS_PER_EPOCH  # mid-epoch

    # Same command again (resume=true picks up <run dir>/checkpoints/last.ckpt).
    done = subprocess.run(train_cmd(labels, run_dir, "resume=true"), env=ENV, capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {last} (epoch 0, step {killed_at['global_step']})" in done.stdout + done.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["epochs"] == EPOCHS
    assert (run_dir / "checkpoints/best.ckpt").is_file()
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["epoch"] == EPOCHS - 1 and final["global_step"] >= EPOCHS * STEPS_PER_EPOCH - 1
    with (run_dir / "csv/metrics.csv").open() as f:  # one logger run: val/cer for every epoch, in order,
        rows = [r for r in csv.DictReader(f) if r.get("val/cer")]  # then the final validate of best.ckpt
    assert [int(r["epoch"]) for r in rows] == [*range(EPOCHS), EPOCHS]
    # metrics.json's curve is the logger's epochs, and the final validate reloads the best of them
    curve = [p["val/cer"] for p in metrics["curve/val"]]
    assert curve == pytest.approx([float(r["val/cer"]) for r in rows[:EPOCHS]], abs=1e-5)
    assert metrics["val/cer"] == pytest.approx(min(curve), abs=1e-5) == float(rows[-1]["val/cer"])


def test_resolve_ckpt_path(tmp_path):
    assert resolve_ckpt_path(None, False, tmp_path) is None
    assert resolve_ckpt_path(None, True, tmp_path) is None  # nothing saved yet: a fresh start
    with pytest.raises(CheckpointError, match="ckpt_path=last: .*last.ckpt not found; pass hydra.run.dir"):
        resolve_ckpt_path("last", False, tmp_path)
    broken = tmp_path / "checkpoints/last.ckpt"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="last.ckpt: cannot read checkpoint: the file is empty or zero-filled"):
        resolve_ckpt_path(None, True, tmp_path)
    torch.save({"state_dict": {}}, broken)  # weights only, e.g. an exported file: cannot resume
    with pytest.raises(CheckpointError, match="not a Lightning training checkpoint"):
        resolve_ckpt_path("last", False, tmp_path)
