"""A word confidence that is a probability: P(the reading is exactly right), from what the model already knows.

Each reading is described by a few features of its CTC posterior (log_probs (T, C) of its image) and its text:
the mean best-frame log-probability, the weakest character (the lowest of each emitted character's best frame
probability, in log), the smallest and the mean margin between the best and the second-best class of a frame,
the text's length. A logistic regression on those, fitted on words of writers the model never trained on
(a writer fold's validation writers, or out-of-fold readings), maps them to the probability; the fitted weights
travel in the checkpoint (`htr_lit.calibration`), so that predict needs nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

FEATURES = ("mean_frame_logp", "weakest_char_logp", "min_margin", "mean_margin", "log_length")
META_KEY = "calibration"


def word_features(log_probs: torch.Tensor, text: str) -> list[float]:
    """The features of one reading from its image's log_probs (T, C), blank at 0, and its greedy text."""
    lp = log_probs.float()
    if lp.shape[0] == 0:
        return [0.0, 0.0, 0.0, 0.0, math.log1p(len(text))]
    top = lp.topk(min(2, lp.shape[1]), dim=-1).values  # (T, 2)
    margin = top[:, 0] - top[:, -1]
    path = lp.argmax(-1)  # (T,)
    best = top[:, 0]
    starts = torch.ones_like(path, dtype=torch.bool)  # (T,) where a run of one best-path class begins
    starts[1:] = path[1:] != path[:-1]
    run = torch.cumsum(starts.long(), 0) - 1  # (T,) run index of each frame
    run_best = torch.full((int(run[-1]) + 1,), -math.inf).scatter_reduce(0, run, best, reduce="amax")  # (runs,)
    emitted = run_best[path[starts] != 0]  # each emitted character's best frame
    weakest = min(0.0, float(emitted.min())) if len(emitted) else 0.0
    return [float(best.mean()), weakest, float(margin.min()), float(margin.mean()), math.log1p(len(text))]


def fit(features: Sequence[Sequence[float]], correct: Sequence[bool], l2: float = 1e-2,
        steps: int = 50) -> dict[str, Any]:
    """Logistic regression (Newton's method, L2 on the weights) on standardised features; the checkpoint record."""
    x = np.asarray(features, float)
    y = np.asarray(correct, float)
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # (N, F + 1), the last column the bias
    w = np.zeros(z.shape[1])
    reg = l2 * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + reg + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return {"features": list(FEATURES), "mean": mean.tolist(), "std": std.tolist(), "weights": w[:-1].tolist(),
            "bias": float(w[-1]), "words": len(y)}


def confidences(record: dict[str, Any] | None, log_probs: Sequence[torch.Tensor], texts: Sequence[str],
                scores: Sequence[float]) -> list[float]:
    """Each reading's word confidence: its calibrated P(right) under `record` (a checkpoint's calibration), or
    without one the raw exp of the reading's log-score (what predict prints then)."""
    if record is None:
        return [math.exp(s) for s in scores]
    if not texts:
        return []
    return probability(record, [word_features(lp, t) for lp, t in zip(log_probs, texts)]).tolist()


def probability(record: dict[str, Any], features: Sequence[Sequence[float]]) -> np.ndarray:
    """P(right) of each reading under a fitted record."""
    if list(record["features"]) != list(FEATURES):
        raise ValueError(f"calibration for features {record['features']}, this code computes {list(FEATURES)}")
    z = (np.asarray(features, float) - np.asarray(record["mean"])) / np.asarray(record["std"])
    return 1 / (1 + np.exp(-(z @ np.asarray(record["weights"]) + record["bias"])))
