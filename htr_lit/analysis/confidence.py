"""How far a word confidence can be trusted: does it separate right from wrong words (AUROC), is it a probability
(expected calibration error), and how right are the words a user accepts above a threshold (risk-coverage)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def auroc(confidence: Sequence[float], correct: Sequence[bool]) -> float | None:
    """P(a right word's confidence > a wrong word's), ties counting half; None without both kinds."""
    conf, ok = np.asarray(confidence, float), np.asarray(correct, bool)
    right, wrong = conf[ok], conf[~ok]
    if not len(right) or not len(wrong):
        return None
    ranks = _ranks(np.concatenate([right, wrong]))
    return float((ranks[: len(right)].sum() - len(right) * (len(right) + 1) / 2) / (len(right) * len(wrong)))


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank."""
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        tied = values == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Mean |accuracy - mean confidence| over `bins` equal-width confidence bins, weighted by their words."""
    conf, ok = np.asarray(confidence, float), np.asarray(correct, float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(ok[mask].mean() - conf[mask].mean())
    return float(total / max(1, len(conf)))


def accuracy_of_most_confident(confidence: Sequence[float], correct: Sequence[bool], share: float) -> float:
    """The share of right words among the `share` most confident ones (ties in input order)."""
    order = np.argsort(-np.asarray(confidence, float), kind="stable")
    keep = order[: max(1, round(share * len(order)))]
    return float(np.asarray(correct, float)[keep].mean())


def best_accuracy_of_most_confident(correct: Sequence[bool], share: float) -> float:
    """The most any confidence could reach in `accuracy_of_most_confident`: every right word ranked first. With a
    share `a` of the words right, the most confident `share` can be at most min(1, a / share) right."""
    keep = max(1, round(share * len(correct)))
    return float(min(keep, int(np.sum(correct))) / keep)


def confident_errors(confidence: Sequence[float], correct: Sequence[bool], readings: Sequence[str],
                     labels: Sequence[str], writers: Sequence[str | None], share: float = 0.5,
                     shown: int = 25) -> dict[str, object]:
    """The wrong words among the `share` most confident ones: how many, how far each reading is from its label
    (character edits: 1, 2, 3 or more), and the `shown` most confident of them. What keeps a ranking from putting
    every right word first: near-misses the model is sure of, and labels that are themselves wrong."""
    from htr_lit.analysis.label_audit import edit_distance

    order = np.argsort(-np.asarray(confidence, float), kind="stable")[: max(1, round(share * len(confidence)))]
    wrong = [int(i) for i in order if not correct[i]]
    edits = [edit_distance(readings[i], labels[i]) for i in wrong]
    by_edits = {"1": sum(e == 1 for e in edits), "2": sum(e == 2 for e in edits), "3+": sum(e >= 3 for e in edits)}
    return {"share": share, "words": len(order), "wrong": len(wrong), "by_edits": by_edits,
            "most_confident": [{"reading": readings[i], "label": labels[i], "writer": writers[i],
                                "confidence": round(float(confidence[i]), 4), "edits": e}
                               for i, e in zip(wrong[:shown], edits[:shown])]}


def risk_coverage(confidence: Sequence[float], correct: Sequence[bool], points: int = 20) -> list[dict[str, float]]:
    """Accuracy of the accepted words against the share accepted, accepting the most confident first."""
    return [{"coverage": k / points, "accuracy": accuracy_of_most_confident(confidence, correct, k / points)}
            for k in range(1, points + 1)]


def confidence_report(confidence: Sequence[float], correct: Sequence[bool]) -> dict[str, object]:
    """Every figure above for one set of words (confidences in [0, 1], whether each word is exactly right)."""
    return {
        "words": len(confidence),
        "accuracy": float(np.mean(correct)) if len(correct) else None,
        "auroc": auroc(confidence, correct),
        "ece": expected_calibration_error(confidence, correct),
        "accuracy_top50": accuracy_of_most_confident(confidence, correct, 0.5),
        "accuracy_top80": accuracy_of_most_confident(confidence, correct, 0.8),
        "best_accuracy_top50": best_accuracy_of_most_confident(correct, 0.5),  # what a perfect ranking reaches
        "best_accuracy_top80": best_accuracy_of_most_confident(correct, 0.8),
        "risk_coverage": risk_coverage(confidence, correct),
    }
