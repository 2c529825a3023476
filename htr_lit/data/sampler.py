"""Width-bucketed batch sampler: batches of similar widths so little compute goes into padding."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch.distributed as dist
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffle, cut into pools of `pool_batches` batches, sort each pool by width, batch, shuffle batches.

    Without shuffling (val/test) the whole set is sorted by width. Lightning calls `set_epoch` each
    epoch, so the order is a function of (seed, epoch) and survives a resume. Under DDP each rank takes every
    `world_size`-th batch, so ranks see disjoint data (the last ranks may get one batch fewer).
    """

    def __init__(
        self,
        widths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        self.widths = list(widths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rank(self) -> tuple[int, int]:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _batches(self) -> list[list[int]]:
        idx = list(range(len(self.widths)))
        if not self.shuffle:
            idx.sort(key=lambda i: self.widths[i])
            return [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        rng = random.Random(self.seed + self.epoch)
        rng.shuffle(idx)
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, len(idx), pool):
            chunk = sorted(idx[start : start + pool], key=lambda i: self.widths[i])
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = self._rank()
        yield from self._batches()[rank::world]

    def __len__(self) -> int:
        rank, world = self._rank()
        return len(self._batches()[rank::world])
