"""DDP correctness on CPU (gloo): sharding covers every sample once; CER over 2 processes == 1 process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchmetrics.text import CharErrorRate

from htr_lit.checkpoint import load_model
from htr_lit.data.datamodule import HTRDataModule
from htr_lit.data.sampler import BucketBatchSampler
from htr_lit.data.sources import LabelsCSVSource
from tests.helpers import TINY, compose_cfg

ROOT = Path(__file__).parents[1]
EVAL_BATCH = 7  # 30 test images -> batches of 7,7,7,7,2: rank 0 gets 3 batches, rank 1 gets 2


def shards(widths: list[int], batch_size: int, shuffle: bool, world: int, epoch: int = 0) -> list[list[list[int]]]:
    out = []
    for rank in range(world):
        s = BucketBatchSampler(widths, batch_size, shuffle=shuffle, seed=3, num_replicas=world, rank=rank)
        s.set_epoch(epoch)
        assert len(s) == len(list(s))
        out.append(list(s))
    return out


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [1, 5, 30, 97])
def test_eval_shards_score_every_sample_exactly_once(world, n):
    widths = [(i * 53) % 400 + 16 for i in range(n)]
    if n < world:
        with pytest.raises(ValueError, match="cannot be shared"):
            shards(widths, 8, shuffle=False, world=world)
        return
    per_rank = shards(widths, 8, shuffle=False, world=world)
    seen = [i for batches in per_rank for b in batches for i in b]
    assert sorted(seen) == list(range(n))  # no sample dropped, none repeated
    counts = [len(b) for b in per_rank]
    assert min(counts) >= 1 and max(counts) - min(counts) <= 1  # every rank reaches the epoch-end sync


@pytest.mark.parametrize("world", [2, 3])
def test_train_shards_have_equal_step_counts_and_cover_everything(world):
    widths = [(i * 53) % 400 + 16 for i in range(101)]  # 13 batches of 8: not a multiple of 2 or 3
    for epoch in (0, 1):
        per_rank = shards(widths, 8, shuffle=True, world=world, epoch=epoch)
        assert len({len(b) for b in per_rank}) == 1  # DDP needs the same number of steps everywhere
        seen = [i for batches in per_rank for b in batches for i in b]
        assert set(seen) == set(range(101)) and len(seen) - 101 < world * 8  # padding: under one batch per rank


def make_checkpoint(csv_path: Path, out: Path) -> Path:
    """An untrained tiny model saved in htr-lit's checkpoint format: its predictions are varied
    (not all empty), which is what makes per-rank mistakes visible in the CER."""
    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={csv_path}", *TINY], out)
    torch.manual_seed(0)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    model = instantiate(cfg.model, charset=dm.charset.chars)
    with torch.no_grad():
        model.head[1].bias[0] = -3.0  # discourage blanks: long, varied (wrong) transcriptions
    meta = {"model_cfg": OmegaConf.to_container(cfg.model, resolve=True), "preprocess": dm.preprocess.to_dict(),
            "format_version": 1, "train_texts": [s.text for s in dm.datasets["train"].samples],
            "charset": list(dm.charset.chars)}
    path = out / "tiny.ckpt"
    torch.save({"state_dict": model.state_dict(), "htr_lit": meta}, path)
    return path


def run_eval(ckpt: Path, csv_path: Path, run_dir: Path, *trainer: str) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = [f"ckpt_path={ckpt}", f"test_csv={csv_path}", f"data.eval_batch_size={EVAL_BATCH}", "data.num_workers=0",
            f"hydra.run.dir={run_dir}", *trainer]
    proc = subprocess.run([sys.executable, "-m", "htr_lit.eval", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads((run_dir / "metrics.json").read_text())


def per_rank_cers(ckpt: Path, csv_path: Path, world: int) -> tuple[float, list[float]]:
    """In-process reference: corpus CER, and the CER each rank would report on its own shard."""
    model, pre = load_model(ckpt)
    dm = HTRDataModule(LabelsCSVSource(test_csv=str(csv_path)), img_height=pre.img_height, max_width=pre.max_width,
                       min_width=pre.min_width, eval_batch_size=EVAL_BATCH, num_workers=0, augment="none",
                       charset=model.charset.chars)
    dm.setup("test")
    ds = dm.datasets["test"]
    from htr_lit.data.collate import collate

    total, ranks = CharErrorRate(), []
    for rank in range(world):
        cer = CharErrorRate()
        for b in BucketBatchSampler(ds.widths, EVAL_BATCH, shuffle=False, num_replicas=world, rank=rank):
            batch = collate([ds[i] for i in b])
            with torch.inference_mode():
                preds = model.decode(*model(batch["images"], batch["widths"]))
            cer.update(preds, batch["texts"])
            total.update(preds, batch["texts"])
        ranks.append(float(cer.compute()))
    return float(total.compute()), ranks


@pytest.mark.slow
def test_two_process_ddp_cer_equals_single_process(csv_dataset, tmp_path):
    ckpt = make_checkpoint(csv_dataset, tmp_path)
    single = run_eval(ckpt, csv_dataset, tmp_path / "one", "trainer=cpu")
    ddp = run_eval(ckpt, csv_dataset, tmp_path / "two", "trainer=ddp_cpu", "trainer.devices=2")

    corpus, ranks = per_rank_cers(ckpt, csv_dataset, world=2)
    # The test can tell right from wrong: averaging the two ranks' CERs would give another number.
    assert abs(sum(ranks) / 2 - corpus) > 1e-4, (ranks, corpus)
    assert single["test/cer"] == pytest.approx(corpus, abs=1e-6)
    for key in ("test/cer", "test/wer", "test/word_acc"):
        assert ddp[key] == pytest.approx(single[key], abs=1e-6), key
    # metrics.json is written once, by rank 0, into the one run folder.
    assert sorted(p.name for p in (tmp_path / "two").rglob("metrics.json")) == ["metrics.json"]


@pytest.mark.slow
@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
@pytest.mark.parametrize("steps, epochs", [(1, 1), (10, 2)])
def test_short_ddp_training_runs(csv_dataset, tmp_path, scheduler, steps, epochs):
    """2 gloo processes, 1 or 10 optimizer steps each (10 train images, batch 1: 5 per rank and epoch):
    the LR schedule is built for any run length (OneCycleLR divided by zero at 10 steps)."""
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = ["data=csv", f"data.source.csv_path={csv_dataset}", *TINY, "data.batch_size=1", "data.augment=none",
            f"model/scheduler={scheduler}", "trainer=ddp_cpu", "trainer.devices=2", f"trainer.max_epochs={epochs}",
            f"++trainer.limit_train_batches={steps}" if steps < 5 else "trainer.limit_train_batches=null",
            f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([sys.executable, "-m", "htr_lit.train", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == steps
