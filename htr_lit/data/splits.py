"""Seeded, deterministic train/val/test splits that never put one writer's words in two splits.

Writer-independent splits are what HTR papers report: a random split leaks each writer's hand into
the test set.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence

from htr_lit.data.sample import Sample

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
_MAX_NAMED = 5


def writers_of(samples: Sequence[Sample]) -> list[str]:
    """The distinct writer ids of `samples`, sorted as strings (samples without a writer are ignored)."""
    return sorted({s.writer_id for s in samples if s.writer_id is not None})


def describe_split(splits: Mapping[str, Sequence[Sample]]) -> str:
    """One log line such as ``train 3712 images / 25 writers, val 551 images / 3 writers, test ...``."""
    names = [n for n in SPLIT_NAMES if n in splits] + [n for n in splits if n not in SPLIT_NAMES]
    parts = []
    for name in names:
        n_writers = len(writers_of(splits[name]))
        writers = f" / {n_writers} writers" if n_writers else ""
        parts.append(f"{name} {len(splits[name])} images{writers}")
    return ", ".join(parts)


def _count(fraction: float, total: int) -> int:
    """``fraction * total`` rounded half up, but at least 1 when ``fraction > 0`` and ``total >= 3``."""
    n = math.floor(fraction * total + 0.5)
    return max(n, 1) if fraction > 0 and total >= 3 else n


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Reject negative fractions and fractions that would leave nothing for training."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"need 0 <= val_fraction, test_fraction and val_fraction + test_fraction < 1, "
            f"got val_fraction={val_fraction}, test_fraction={test_fraction}"
        )


def _sample_name(sample: Sample) -> str:
    """How a sample is named in errors: its origin, else its path."""
    return sample.origin or str(sample.path)


def _require_writer_ids(samples: Sequence[Sample]) -> bool:
    """True if every sample has a writer id, False if none has; raise if only some have one."""
    missing = [s for s in samples if s.writer_id is None]
    if missing and len(missing) < len(samples):
        raise ValueError(
            f"{len(missing)} of {len(samples)} samples have no writer_id "
            f"(first: {_sample_name(missing[0])}); "
            "a writer-independent split needs a writer id on every sample, or on none"
        )
    return not missing


def _explicit_writers(name: str, writers: Sequence[str] | None, known: list[str]) -> set[str] | None:
    """The writers named for split `name` as a set, raising ValueError for one that no sample has."""
    if writers is None:
        return None
    chosen = {str(w) for w in writers}
    known_set = set(known)
    unknown = sorted(w for w in chosen if w not in known_set)
    if unknown:
        raise ValueError(
            f"{name}_writers names unknown writer(s) {unknown[:_MAX_NAMED]}; "
            f"the {len(known)} known writers include {known[:_MAX_NAMED]}"
        )
    return chosen


def _take(order: list[str], n: int) -> set[str]:
    """Pop the first `n` writers of the shuffled `order` (in place) into a set."""
    taken = set(order[:n])
    del order[:n]
    return taken


def _assign_writers(
    writers: list[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    val_writers: Sequence[str] | None,
    test_writers: Sequence[str] | None,
) -> dict[str, set[str]]:
    """Choose each split's writers: explicit lists first, then fractions of all writers, test before val."""
    val = _explicit_writers("val", val_writers, writers)
    test = _explicit_writers("test", test_writers, writers)
    if val is not None and test is not None and val & test:
        raise ValueError(
            f"writer(s) {sorted(val & test)[:_MAX_NAMED]} are in both val_writers and test_writers"
        )
    order = sorted(w for w in writers if w not in (val or set()) | (test or set()))
    random.Random(seed).shuffle(order)
    # Test is drawn first so that the test writers do not change when only val_fraction changes.
    if test is None:
        test = _take(order, _count(test_fraction, len(writers)))
    if val is None:
        val = _take(order, _count(val_fraction, len(writers)))
    if not order:
        raise ValueError(
            f"no writer left for training: {len(writers)} writers, {len(val)} for val, {len(test)} for test"
        )
    return {"train": set(order), "val": val, "test": test}


def _split_samples_at_random(
    samples: Sequence[Sample], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Sample]]:
    """Fallback without writer ids: seeded random split of the samples themselves (input order kept)."""
    log.warning(
        "no sample has a writer_id: splitting %d samples at random, so the split is NOT writer-independent",
        len(samples),
    )
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    n_test = _count(test_fraction, len(samples))
    n_val = _count(val_fraction, len(samples))
    split_of = {i: "test" for i in order[:n_test]} | {i: "val" for i in order[n_test : n_test + n_val]}
    splits: dict[str, list[Sample]] = {name: [] for name in SPLIT_NAMES}
    for i, sample in enumerate(samples):
        splits[split_of.get(i, "train")].append(sample)
    return splits


def split_by_writer(
    samples: Sequence[Sample],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    val_writers: Sequence[str] | None = None,
    test_writers: Sequence[str] | None = None,
) -> dict[str, list[Sample]]:
    """Split into "train"/"val"/"test" by whole writers (fractions are of writers), seeded and deterministic.

    Explicit writer lists win; without any writer ids it falls back to a random split with a warning.
    Rows a reader flagged as unusable (`Sample.problem`) go to "train", where validation reports them.
    """
    _check_fractions(val_fraction, test_fraction)
    unusable = [s for s in samples if s.problem]
    if unusable:
        splits = split_by_writer([s for s in samples if not s.problem], val_fraction, test_fraction, seed,
                                 val_writers, test_writers)
        splits["train"] += unusable
        return splits
    if not samples:
        return {name: [] for name in SPLIT_NAMES}
    if not _require_writer_ids(samples):
        if val_writers is not None or test_writers is not None:
            raise ValueError("val_writers/test_writers given, but no sample has a writer_id")
        return _split_samples_at_random(samples, val_fraction, test_fraction, seed)
    chosen = _assign_writers(
        writers_of(samples), val_fraction, test_fraction, seed, val_writers, test_writers
    )
    split_of = {w: name for name, ws in chosen.items() for w in ws}
    splits: dict[str, list[Sample]] = {name: [] for name in SPLIT_NAMES}
    for sample in samples:
        splits[split_of[sample.writer_id]].append(sample)
    return splits
