"""CTC prefix beam search, optionally with a character n-gram LM (shallow fusion).

The search itself is `htr_lit.decoding.prefix_search`; this file holds the decoder and the two
`ExtensionScorer`s it uses: plain (no LM) and character-LM fusion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.lm import CharNgramLM
from htr_lit.decoding.prefix_search import ExtensionScorer, check_search_args, search_batch


class _PlainScorer:
    """No LM: every token may follow every prefix, with a constant insertion weight."""

    def __init__(self, n_classes: int, insertion_bonus: float) -> None:
        self._factors = ([math.exp(insertion_bonus)] * n_classes, math.exp(insertion_bonus))

    def root(self) -> Any:
        return None

    def factors(self, state: Any) -> tuple[Sequence[float], float]:
        return self._factors

    def child(self, state: Any, token: int) -> Any:
        return None

    def finish(self, state: Any) -> tuple[str, float]:
        return "", 0.0


class _CharLMScorer:
    """Shallow fusion: weight(token | prefix) = P_lm(char | context)^lm_weight * exp(insertion_bonus)."""

    def __init__(
        self,
        lm: CharNgramLM,
        tokens: Sequence[str],
        lm_weight: float,
        insertion_bonus: float,
        cache_size: int,
    ) -> None:
        self.lm, self.tokens = lm, list(tokens)
        self.lm_weight, self.bonus = lm_weight, insertion_bonus
        self._map = lm.token_map(tokens)
        self._cache: dict[str, tuple[list[float], float]] = {}
        self._cache_size = cache_size

    def root(self) -> Any:
        return self.lm.initial_state()

    def factors(self, state: Any) -> tuple[Sequence[float], float]:
        f = self._cache.get(state)
        if f is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            w = np.exp(self.lm_weight * self.lm.log_probs_state(state)[self._map] + self.bonus)
            f = self._cache[state] = (w.tolist(), float(w.max()))
        return f

    def child(self, state: Any, token: int) -> Any:
        return self.lm.advance(state, self.tokens[token])

    def finish(self, state: Any) -> tuple[str, float]:
        return "", self.lm_weight * float(self.lm.log_probs_state(state)[self.lm.end_index])


class BeamSearchDecoder:
    """CTC prefix beam search with optional character n-gram LM fusion.

    Hypothesis score = log P_ctc(text) + lm_weight * log P_lm(text incl. end of word)
    + insertion_bonus * len(text). With `lm=None` (or `lm_weight=0`) and no bonus it is plain prefix
    beam search. Speed comes from per-frame pruning: only the `top_k` best non-blank tokens with
    log-prob >= `prune_log_prob` may extend a prefix at a frame, frames with none only cost a
    blank/stay update, and the LM distribution of each context is computed once and cached.
    Exact (all labelings scored) when the beam holds every prefix and nothing is pruned.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        beam_width: int = 16,
        lm: CharNgramLM | None = None,
        lm_weight: float = 0.5,
        insertion_bonus: float = 0.0,
        top_n: int = 1,
        prune_log_prob: float = -12.0,
        blank: int = 0,
        top_k: int = 8,
        cache_size: int = 200_000,
    ) -> None:
        check_search_args(beam_width, top_n, top_k)
        self.tokens = list(tokens)
        self.beam_width, self.top_n, self.top_k = beam_width, top_n, top_k
        self.prune_log_prob, self.blank = prune_log_prob, blank
        self.lm, self.lm_weight, self.insertion_bonus = lm, lm_weight, insertion_bonus
        self.scorer: ExtensionScorer
        if lm is None or lm_weight == 0.0:
            self.scorer = _PlainScorer(len(self.tokens), insertion_bonus)
        else:
            self.scorer = _CharLMScorer(lm, self.tokens, lm_weight, insertion_bonus, cache_size)

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        return search_batch(
            log_probs, lengths, self.tokens, self.scorer, self.beam_width, self.top_n, self.top_k,
            self.prune_log_prob, self.blank,
        )
