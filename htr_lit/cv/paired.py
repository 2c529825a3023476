"""Paired significance tests for two recipes scored on the same writer folds.

Two recipes cross-validated on the same folds (`htr_lit.cv`, same `--seed`) give one CER per fold and one
per test writer each. The difference per fold (or per writer) is paired: the same writers, the same
split. Two exact tests on those differences, both two-sided and free of any normality assumption:

- the **sign test**: how often recipe B beats A, against a fair coin (ties dropped);
- the **paired permutation test** (sign flipping): under "no difference" each pair's difference is as
  likely to be +d as -d, so the p-value is the share of the 2^n sign patterns whose mean difference is at
  least as far from 0 as the observed one (exact up to 2^16 patterns, else a seeded Monte Carlo sample).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

from htr_lit.results.stats import mean_std

EXACT_UP_TO = 16  # pairs; beyond, the permutation test samples sign patterns
SAMPLES = 100_000


def sign_test(diffs: Sequence[float]) -> float:
    """Two-sided exact binomial p-value of the signs of `diffs` (zeros dropped); 1.0 without any sign."""
    signs = [d for d in diffs if d != 0]
    n = len(signs)
    if n == 0:
        return 1.0
    k = min(sum(d > 0 for d in signs), sum(d < 0 for d in signs))
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def permutation_test(diffs: Sequence[float], samples: int = SAMPLES, seed: int = 0) -> float:
    """Two-sided p-value of the mean of paired `diffs` by sign flipping; 1.0 for no pairs."""
    n = len(diffs)
    if n == 0:
        return 1.0
    observed = abs(sum(diffs)) - 1e-12  # tolerance: the observed pattern itself always counts
    if n <= EXACT_UP_TO:
        patterns = itertools.product((1, -1), repeat=n)
        hits = sum(abs(sum(s * d for s, d in zip(signs, diffs))) >= observed for signs in patterns)
        return hits / 2**n
    rng = random.Random(seed)
    hits = sum(abs(sum(d if rng.random() < 0.5 else -d for d in diffs)) >= observed for _ in range(samples))
    return (hits + 1) / (samples + 1)


def paired_summary(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Differences b - a: mean, std, how many pairs B wins / loses / ties, and both p-values."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    diffs = [y - x for x, y in zip(a, b)]
    return {
        "pairs": len(diffs),
        "mean_diff": mean_std(diffs)[0] if diffs else 0.0,
        "std_diff": mean_std(diffs)[1] if len(diffs) > 1 else 0.0,
        "b_better": sum(d < 0 for d in diffs),
        "b_worse": sum(d > 0 for d in diffs),
        "ties": sum(d == 0 for d in diffs),
        "sign_p": sign_test(diffs),
        "permutation_p": permutation_test(diffs),
    }
