"""Closest dictionary word for single-word images: candidates scored by their exact CTC likelihood
(`torch.nn.functional.ctc_loss`, all alignments summed), the best ones returned."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F

from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.greedy import best_path


class ClosestWordDecoder:
    """Single-word images: the dictionary words with the highest exact CTC log-likelihood.

    Scores come from `ctc_loss(reduction="none")` (the forward algorithm, summed over all alignments),
    batched over candidate words. With more than `max_candidates` words (None = no cap), only the
    `max_candidates` words closest to the greedy reading are scored exactly: closest in bag-of-characters
    distance (which also covers length), ties broken by the best per-character frame log-probs. A word
    whose letters differ from the greedy output more than the cap allows can then be missed.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        words: Iterable[str] | Mapping[str, int],
        top_n: int = 1,
        max_candidates: int | None = 256,
        blank: int = 0,
    ) -> None:
        self.tokens = list(tokens)
        self.top_n, self.max_candidates, self.blank = top_n, max_candidates, blank
        index = {t: i for i, t in enumerate(self.tokens) if i != blank and t}
        pairs = words.keys() if isinstance(words, Mapping) else words
        self.words = sorted({w for w in pairs if w and all(ch in index for ch in w)})
        if not self.words:
            raise ValueError("the dictionary has no word that the tokens can spell")
        N, S, C = len(self.words), max(map(len, self.words)), len(self.tokens)
        self._targets = torch.full((N, S), index[self.words[0][0]], dtype=torch.long)  # padding is ignored
        self._target_lengths = torch.tensor([len(w) for w in self.words], dtype=torch.long)
        self._bags = torch.zeros(N, C)
        for n, w in enumerate(self.words):
            ids = [index[ch] for ch in w]
            self._targets[n, : len(ids)] = torch.tensor(ids)
            for i in ids:
                self._bags[n, i] += 1

    def _candidates(self, lp: torch.Tensor, greedy: list[int]) -> torch.Tensor:
        """Indices of the words to score exactly (all, or the `max_candidates` nearest the greedy reading)."""
        N = len(self.words)
        if self.max_candidates is None or N <= self.max_candidates:
            return torch.arange(N)
        g = Counter(greedy)
        cols = torch.tensor(list(g), dtype=torch.long)
        common = torch.minimum(self._bags[:, cols], torch.tensor(list(g.values()), dtype=torch.float32))
        dist = self._target_lengths + len(greedy) - 2 * common.sum(dim=1)  # bag-of-characters L1 distance
        frame_best = lp.max(dim=0).values.clamp(min=-50.0)  # (C,)
        key = dist * 1e4 - self._bags @ frame_best  # distance first, then the per-character evidence
        return key.topk(self.max_candidates, largest=False).indices

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        lp_all = log_probs.detach().to("cpu", torch.float32)
        paths = best_path(lp_all, lengths, self.blank)
        out = []
        with torch.no_grad():
            for b, L in enumerate(lengths.tolist()):
                if int(L) == 0:
                    out.append([Hypothesis("", -math.inf)])  # no frame: no word is possible
                    continue
                lp = lp_all[b, : int(L)]  # (L, C)
                cand = self._candidates(lp, paths[b])
                n = len(cand)
                nll = F.ctc_loss(
                    lp.unsqueeze(1).expand(-1, n, -1),
                    self._targets[cand],
                    torch.full((n,), int(L), dtype=torch.long),
                    self._target_lengths[cand],
                    blank=self.blank,
                    reduction="none",
                )
                scores, order = (-nll).topk(min(self.top_n, n))
                out.append(
                    [
                        Hypothesis(self.words[int(cand[i])], float(s))
                        for s, i in zip(scores.tolist(), order.tolist())
                    ]
                )
        return out
