"""LR schedules for any run length: short runs no longer crash OneCycleLR, long runs keep its exact curve."""

from __future__ import annotations

import functools
import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch.optim.lr_scheduler import OneCycleLR

from htr_lit.models.schedules import build_scheduler
from tests.helpers import compose_cfg, tiny_data_and_model

MAX_LR = 1e-3


def lrs(make, total_steps: int) -> list[float]:
    """The LR of each of `total_steps` optimizer steps (and the one after), as Lightning steps it."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=MAX_LR)
    sched = make(opt, total_steps)
    out = []
    for _ in range(total_steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()  # after the last step too: Lightning does
    return out


def configured(name: str, tmp_path) -> functools.partial:
    return instantiate(compose_cfg("train", [f"model/scheduler={name}"], tmp_path).model.scheduler)


def test_plain_one_cycle_crashes_on_ten_steps(tmp_path):
    """The bug this module exists for (pct_start 0.1 x 10 steps = a warm-up of 1 step)."""
    with pytest.raises(ZeroDivisionError):
        lrs(lambda opt, n: configured("onecycle", tmp_path)(optimizer=opt, total_steps=n), 10)


@pytest.mark.parametrize("total_steps", [200, 1000, 37, 11])
def test_long_one_cycle_is_unchanged(tmp_path, total_steps):
    make = configured("onecycle", tmp_path)  # the configured partial, as torch's plain OneCycleLR
    assert make.func is OneCycleLR and make.keywords["pct_start"] == 0.1
    plain = lrs(lambda opt, n: make(optimizer=opt, total_steps=n), total_steps)
    ours = lrs(lambda opt, n: build_scheduler(make, opt, n), total_steps)
    assert ours == plain  # exactly, step by step
    assert make.keywords["max_lr"] * 0.95 < max(ours) <= make.keywords["max_lr"]


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total_steps", [*range(1, 25), 50])
def test_one_cycle_any_length(total_steps, three_phase):
    make = functools.partial(OneCycleLR, max_lr=MAX_LR, pct_start=0.1, three_phase=three_phase)
    seq = lrs(lambda opt, n: build_scheduler(make, opt, n), total_steps)
    assert len(seq) == total_steps and all(math.isfinite(x) and x > 0 for x in seq)
    assert max(seq) <= MAX_LR * (1 + 1e-12)
    if not three_phase:  # (near) the peak however short the run
        assert MAX_LR * 0.95 < max(seq)
        if total_steps >= 3:
            assert seq[0] < MAX_LR and seq[-1] < MAX_LR  # still a warm-up and an annealing phase


def test_short_one_cycle_warms_up_over_two_steps():
    seq = lrs(lambda opt, n: build_scheduler(functools.partial(OneCycleLR, max_lr=MAX_LR, pct_start=0.1), opt, n), 10)
    assert seq[0] == pytest.approx(MAX_LR / 25) and seq[1] == pytest.approx(MAX_LR)
    assert all(a > b for a, b in zip(seq[1:], seq[2:]))  # then anneals


@pytest.mark.parametrize("total_steps", [1, 2, 3, 10, 100])
def test_cosine_spans_the_whole_run(tmp_path, total_steps):
    seq = lrs(lambda opt, n: build_scheduler(configured("cosine", tmp_path), opt, n), total_steps)
    assert seq[0] == MAX_LR and all(x > 0 for x in seq)
    assert all(a > b for a, b in zip(seq, seq[1:]))  # decreasing, never cycling back up


class LRs(L.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
@pytest.mark.parametrize("steps", [1, 10])
@pytest.mark.train
def test_short_training_runs(csv_dataset, tmp_path, one_thread, scheduler, steps):
    """`trainer.max_epochs=1 ++trainer.limit_train_batches=N` trains N steps through configure_optimizers."""
    dm, model = tiny_data_and_model(csv_dataset, tmp_path, "data.batch_size=1", f"model/scheduler={scheduler}")
    rec = LRs()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu", callbacks=[rec])
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == steps and len(rec.lrs) == steps
    assert all(math.isfinite(x) and x > 0 for x in rec.lrs)
