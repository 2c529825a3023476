"""A decoder that keeps its own time (eval and inspect report the decoding cost an image) and, if asked, its best
hypotheses (eval scores their confidence)."""

from __future__ import annotations

import time

import torch

from htr_lit.decoding.base import Decoder, Hypothesis


class TimedDecoder:
    """Wraps a decoder to add up its wall time and the images it decoded (for `decode_ms_per_image`)."""

    def __init__(self, decoder: Decoder, keep: bool = False, keep_log_probs: bool = False) -> None:
        self.decoder = decoder
        self.seconds = 0.0
        self.images = 0
        self.kept: list[Hypothesis] = []  # with `keep`: each image's best hypothesis, in the order decoded
        self.kept_runner_up: list[float | None] = []  # with `keep`: the second-best score (None: only one)
        self.kept_log_probs: list[torch.Tensor] = []  # with `keep_log_probs`: each image's (T_i, C), on the CPU
        self.keep, self.keep_log_probs = keep, keep_log_probs

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        start = time.perf_counter()
        with torch.no_grad():
            out = self.decoder(log_probs, lengths)
        self.seconds += time.perf_counter() - start
        self.images += len(out)
        if self.keep:
            self.kept += [h[0] if h else Hypothesis("", float("-inf")) for h in out]
            self.kept_runner_up += [h[1].score if len(h) > 1 else None for h in out]
        if self.keep_log_probs:
            self.kept_log_probs += [log_probs[b, : int(lengths[b])].detach().cpu() for b in range(len(out))]
        return out

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / max(self.images, 1)
