"""LR schedules that work for any positive number of steps, however short the run.

`build_scheduler` is what `HTRModule.configure_optimizers` calls with the configured partial
(conf/model/scheduler/*.yaml) and the run's length. torch's OneCycleLR divides by the length of
each phase, so a run where `pct_start * total_steps` is 1 (10 steps at pct_start 0.1) dies with a
ZeroDivisionError; such runs get the shortest warm-up that works (2 steps) or, under 3 steps, a constant
LR. Long runs keep exactly the configured OneCycleLR.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import torch
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LRScheduler, OneCycleLR

log = logging.getLogger(__name__)

MIN_WARMUP = 2.0  # OneCycleLR's warm-up ends at step pct_start * total_steps - 1: step 1 reaches max_lr


def cosine(optimizer: torch.optim.Optimizer, total_steps: int, eta_min: float = 0.0) -> CosineAnnealingLR:
    """Cosine annealing from the optimizer's LR down to `eta_min` over the whole run (`total_steps` >= 1)."""
    return CosineAnnealingLR(optimizer, T_max=max(1, int(total_steps)), eta_min=eta_min)


def _one_cycle_fits(pct_start: float, total_steps: int, three_phase: bool) -> bool:
    """Whether every phase of torch's OneCycleLR has a positive length (its denominators)."""
    warmup = float(pct_start * total_steps)
    last = total_steps + 1 - 2 * warmup if three_phase else total_steps - warmup
    return warmup - 1 > 0 and last > 0


def _constant(optimizer: torch.optim.Optimizer, max_lr: float | list[float]) -> ConstantLR:
    """Every step at `max_lr` (per param group when a list), for runs too short for any cycle."""
    lrs = max_lr if isinstance(max_lr, (list, tuple)) else [max_lr] * len(optimizer.param_groups)
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr
    return ConstantLR(optimizer, factor=1.0, total_iters=0)


def one_cycle_for(
    make: Callable[..., Any], optimizer: torch.optim.Optimizer, total_steps: int
) -> LRScheduler:
    """`make` (a OneCycleLR partial) over `total_steps`, with pct_start shortened or lengthened only when
    torch's phases would have no length (a ZeroDivisionError otherwise)."""
    keywords = make.keywords if isinstance(make, functools.partial) else {}
    defaults = inspect.signature(OneCycleLR).parameters
    pct_start = float(keywords.get("pct_start", defaults["pct_start"].default))
    three_phase = bool(keywords.get("three_phase", defaults["three_phase"].default))
    if _one_cycle_fits(pct_start, total_steps, three_phase):
        return make(optimizer=optimizer, total_steps=total_steps)
    short = MIN_WARMUP / total_steps
    if _one_cycle_fits(short, total_steps, three_phase):
        log.warning("onecycle: %d steps are too few for pct_start=%s; warming up over %d steps instead",
                    total_steps, pct_start, int(MIN_WARMUP))
        return make(optimizer=optimizer, total_steps=total_steps, pct_start=short)
    log.warning("onecycle: %d steps are too few for a cycle; constant LR (max_lr) instead", total_steps)
    return _constant(optimizer, keywords.get("max_lr", [g["lr"] for g in optimizer.param_groups]))


def build_scheduler(make: Callable[..., Any], optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
    """Instantiate the scheduler partial `make` for a run of `total_steps` scheduler steps (>= 1), filled in
    as `total_steps` when the scheduler takes it."""
    total_steps = max(1, int(total_steps))
    func = make.func if isinstance(make, functools.partial) else make
    if isinstance(func, type) and issubclass(func, OneCycleLR):
        return one_cycle_for(make, optimizer, total_steps)
    if "total_steps" in inspect.signature(func).parameters:
        return make(optimizer=optimizer, total_steps=total_steps)
    return make(optimizer=optimizer)
