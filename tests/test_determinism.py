"""Same seed and config on CPU -> the same metrics, twice (augmentation, dropout, shuffling included)."""

from __future__ import annotations

import pytest

from htr_lit.train import train
from tests.helpers import TINY, compose_cfg, csv_data

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_run(csv_dataset, out_dir, seed: int) -> dict:
    cfg = compose_cfg("train", [
        *csv_data(csv_dataset), *TINY, "data.img_height=32", "data.augment=light",
        "trainer.max_epochs=2", "trainer.deterministic=true", "+trainer.enable_progress_bar=false",
        "logger=csv", "~callbacks.progress_bar", f"seed={seed}",
    ], out_dir)
    metrics = train(cfg)
    timings = ("time/", "throughput/")  # wall-clock measurements, not results
    return {k: v for k, v in metrics.items() if not k.startswith(timings) and k != "best_ckpt"}


@pytest.mark.train
def test_same_seed_same_metrics_on_cpu(csv_dataset, tmp_path):
    first = tiny_run(csv_dataset, tmp_path / "a", seed=7)
    second = tiny_run(csv_dataset, tmp_path / "b", seed=7)
    assert first == second
    assert {"val/cer", "test/cer", "val/loss", "test/loss"} <= first.keys()
    other = tiny_run(csv_dataset, tmp_path / "c", seed=8)
    assert other["val/loss"] != first["val/loss"]  # the seed really reaches the run
