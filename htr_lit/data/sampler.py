"""Width-bucketed batch sampler: batches of similar widths so little compute goes into padding."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch.distributed as dist
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffle, cut into pools of `pool_batches` batches, sort each pool by width, batch, shuffle batches.

    Without shuffling (val/test) the whole set is sorted by width. Lightning calls `set_epoch` each
    epoch, so the order is a function of (seed, epoch) and survives a resume.

    Under DDP (`use_distributed_sampler: false`; rank and world size from torch.distributed unless
    given) each rank takes every `world_size`-th batch:
    - training (shuffle): the batch list is padded by wrapping around to a multiple of the world size,
      because DDP needs the same number of steps on every rank (a rank short of a step would hang the
      gradient all-reduce);
    - evaluation: no padding, so every sample is scored exactly once (DistributedSampler repeats
      samples, which would bias CER); ranks may get one batch fewer, which is fine because metric
      states are summed across ranks once, at epoch end. Every rank gets at least one batch (batches
      are made smaller when there are fewer batches than ranks): a rank with no batch would skip
      the epoch-end sync that the others wait on.
    """

    def __init__(
        self,
        widths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.widths = list(widths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rank(self) -> tuple[int, int]:
        if self.num_replicas is not None:
            return self.rank or 0, self.num_replicas
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _sorted_batches(self, world: int) -> list[list[int]]:
        idx = sorted(range(len(self.widths)), key=lambda i: self.widths[i])
        if 0 < len(idx) < world:
            raise ValueError(f"{len(idx)} evaluation samples cannot be shared by {world} DDP processes")
        size = max(1, min(self.batch_size, len(idx) // world))  # >= world batches when possible
        return [idx[i : i + size] for i in range(0, len(idx), size)]

    def _shuffled_batches(self, world: int) -> list[list[int]]:
        idx = list(range(len(self.widths)))
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
        if batches and len(batches) % world:
            batches += batches[: world - len(batches) % world]  # same step count on every rank
        return batches

    def _batches(self) -> list[list[int]]:
        rank, world = self._rank()
        batches = self._shuffled_batches(world) if self.shuffle else self._sorted_batches(world)
        return batches[rank::world]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        return len(self._batches())
