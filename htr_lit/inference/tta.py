"""Test-time augmentation by width stretch: every word image is read at several horizontal scales (writers
differ most in how wide they make their letters), each reading proposes its transcriptions, and the
candidate that the readings find most likely together wins: the mean of its CTC log-likelihoods over the
stretches (a product of their probabilities), not a vote of their best paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from htr_lit.decoding.base import Hypothesis
from htr_lit.errors import ConfigError

# Width factors of `tta=true`: +-20 % around the image in 10 % steps. On nine writer-CV fold models they took 0.5-1.9
# CER points off, every test writer better (docs/unseen_writers.md, "Test-time stretch").
DEFAULT_FACTORS = (0.8, 0.9, 1.0, 1.1, 1.2)

# images -> (hypotheses per image, log_probs (T_i, C) per image): one plain reading of a list of images
Reader = Callable[[list[np.ndarray]], tuple[list[list[Hypothesis]], list[torch.Tensor]]]


def tta_factors(spec: object) -> tuple[float, ...] | None:
    """predict's and cv's `tta` value -> width factors: null / false: off; true: DEFAULT_FACTORS; a list
    (or a comma-separated string) of positive factors, 1.0 the image as it is."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return DEFAULT_FACTORS
    items = spec.split(",") if isinstance(spec, str) else spec
    try:
        factors = tuple(float(f) for f in items)  # type: ignore[union-attr]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"tta={spec}: true, or width factors such as [0.8,0.9,1.0,1.1,1.2]") from e
    if not factors or any(not 0.25 <= f <= 4.0 for f in factors):
        raise ConfigError(f"tta={spec}: width factors between 0.25 and 4 (1.0: the image as it is), at least one")
    return tuple(dict.fromkeys(factors))  # each once, in the order given


def stretch(image: np.ndarray, factor: float, min_width: int = 16) -> np.ndarray:
    """uint8 (H, W) -> (H, round(W * factor)), at least `min_width` wide; area averaging narrows, bilinear widens."""
    if factor == 1.0:
        return image
    h, w = image.shape
    new_w = max(min_width, round(w * factor))
    return cv2.resize(image, (new_w, h), interpolation=cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR)


@dataclass(frozen=True)
class StretchReading:
    """One image read at every stretch: the fused candidates (best first), each stretch's own best text (in the
    factors' order), and the log_probs (T, C) of the image as it is (factor 1.0; the first factor without it)."""

    hypotheses: list[Hypothesis]
    texts: tuple[str, ...]
    log_probs: torch.Tensor

    @property
    def agreement(self) -> float:
        """The share of stretches whose own best text is the fused reading (0 when nothing was read)."""
        if not self.hypotheses or not self.texts:
            return 0.0
        return sum(t == self.hypotheses[0].text for t in self.texts) / len(self.texts)


class StretchFusion:
    """Reads images at each width factor and fuses the readings per image (see the module docstring)."""

    def __init__(self, factors: Sequence[float], tokens: Sequence[str], min_width: int = 16) -> None:
        self.factors = tuple(factors)
        self.index = {tok: i for i, tok in enumerate(tokens) if tok}  # character -> class; the blank ("") is 0
        self.min_width = min_width

    def __call__(self, images: list[np.ndarray], read: Reader) -> list[list[Hypothesis]]:
        return [r.hypotheses for r in self.read(images, read)]

    def read(self, images: list[np.ndarray], read: Reader) -> list[StretchReading]:
        """Each image read at every stretch and fused, with what a calibration of the fused reading needs."""
        readings = [read([stretch(im, f, self.min_width) for im in images]) for f in self.factors]
        plain = self.factors.index(1.0) if 1.0 in self.factors else 0
        out = []
        for i in range(len(images)):
            hyps, lps = [h[i] for h, _ in readings], [lp[i] for _, lp in readings]
            out.append(StretchReading(self.fuse(hyps, lps), tuple(h[0].text if h else "" for h in hyps), lps[plain]))
        return out

    def fuse(self, hypotheses: list[list[Hypothesis]], log_probs: list[torch.Tensor]) -> list[Hypothesis]:
        """One image: the hypotheses of each stretch and its log_probs (T_v, C) -> the candidates (every text
        proposed, once) best first, each scored by its mean CTC log-likelihood over the stretches that can
        emit every candidate (a stretch too narrow for one is left out for all, so they stay comparable)."""
        texts = list(dict.fromkeys(h.text for hyps in hypotheses for h in hyps))
        texts = [t for t in texts if all(c in self.index for c in t)]  # a lexicon word outside the charset: no score
        if not texts:
            return list(hypotheses[0])
        scores = self._log_likelihoods(texts, log_probs)  # (K, V)
        usable = torch.isfinite(scores).all(dim=0)
        if not bool(usable.any()):  # no stretch can emit every candidate: the first reading stands
            return list(hypotheses[0])
        fused = scores[:, usable].mean(dim=1)
        order = sorted(range(len(texts)), key=lambda k: -float(fused[k]))
        return [Hypothesis(texts[k], float(fused[k])) for k in order]

    def _log_likelihoods(self, texts: list[str], log_probs: list[torch.Tensor]) -> torch.Tensor:
        """(K candidates, V stretches) log P(text | stretch) under CTC; -inf where a text needs more frames."""
        k, v = len(texts), len(log_probs)
        frames = torch.tensor([lp.shape[0] for lp in log_probs], dtype=torch.long)
        padded = torch.zeros(int(frames.max()), v, log_probs[0].shape[1])  # (T_max, V, C)
        for j, lp in enumerate(log_probs):
            padded[: lp.shape[0], j] = lp.float()
        inputs = padded.repeat(1, k, 1)  # (T_max, K*V, C): candidate-major, stretch-minor
        labels = [[self.index[c] for c in t] for t in texts]
        targets = torch.tensor([i for lab in labels for _ in range(v) for i in lab], dtype=torch.long)  # concatenated
        target_lengths = torch.tensor([len(lab) for lab in labels for _ in range(v)], dtype=torch.long)
        loss = F.ctc_loss(inputs, targets, frames.repeat(k), target_lengths, blank=0, reduction="none",
                          zero_infinity=False)
        return -loss.view(k, v)
