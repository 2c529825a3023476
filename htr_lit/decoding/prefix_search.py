"""CTC prefix beam search: the search core shared by the beam decoder (`beam.py`) and word beam search
(`lexicon.py`).

What may extend a prefix, and with which weight, is decided by an `ExtensionScorer`. The search works
in probability space with occasional rescaling rather than in log space: the hot loop is then plain
float multiply/add, several times faster in Python than `logaddexp`, and it is exact up to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from htr_lit.decoding.base import Hypothesis

_RESCALE = 1e100  # rescale the beam probabilities when the best one leaves [1 / _RESCALE, _RESCALE]


class ExtensionScorer(Protocol):
    """Decides how prefixes may grow. States are hashable summaries of a prefix (an LM context, a
    trie node, ...), computed once per prefix."""

    def root(self) -> Any:
        """The state of the empty prefix."""
        ...

    def factors(self, state: Any) -> tuple[Sequence[float], float]:
        """Per token index, the multiplicative weight of appending that token (0 forbids it); and the
        largest of them (an upper bound the search uses to stop early)."""
        ...

    def child(self, state: Any, token: int) -> Any:
        """The state after appending `token`."""
        ...

    def finish(self, state: Any) -> tuple[str, float]:
        """At the end of the image: text to append and a log-weight (-inf rejects the prefix)."""
        ...


@dataclass
class Frames:
    """One image's CTC output prepared for the search (probabilities, not logs).

    `cands[t]` lists the non-blank (token, prob) pairs that survived pruning at frame t, best first;
    `blank[t]` is the blank probability; `rows[t]` the full probability row (for labels continued
    across frames, whether or not they survived pruning there).
    """

    cands: list[list[tuple[int, float]]]
    blank: list[float]
    rows: list[list[float]]


def prepare_frames(
    log_probs: torch.Tensor, lengths: torch.Tensor, blank: int, top_k: int, prune_log_prob: float
) -> list[Frames]:
    """Top-k + threshold pruning per frame, batched on tensors; one `Frames` per image."""
    lp = log_probs.detach().to("cpu", torch.float64)
    C = lp.shape[-1]
    masked = lp.clone()
    masked[..., blank] = -math.inf
    vals, idx = masked.topk(max(1, min(top_k, C - 1)), dim=-1)  # (B, T, k) non-blank, best first
    counts = (vals >= prune_log_prob).sum(-1).numpy().tolist()  # survivors are a prefix of each list
    idx_l, p_l = idx.numpy().tolist(), vals.exp().numpy().tolist()  # (numpy's tolist is much faster)
    probs = lp.exp().numpy()
    out = []
    for b, L in enumerate(lengths.tolist()):
        L = int(L)
        cands = [list(zip(i[:n], p[:n])) for i, p, n in zip(idx_l[b][:L], p_l[b][:L], counts[b][:L])]
        out.append(Frames(cands, probs[b, :L, blank].tolist(), probs[b, :L].tolist()))
    return out


@dataclass
class SearchResult:
    """The final beams of one image: prefix nodes with their log-probabilities, plus the prefix tree."""

    beams: list[tuple[int, float]]
    parent: list[int]
    label: list[int]
    state: list[Any]

    def labels(self, node: int) -> list[int]:
        out = []
        while node > 0:
            out.append(self.label[node])
            node = self.parent[node]
        return out[::-1]


def prefix_beam_search(
    frames: Frames, n_classes: int, beam_width: int, scorer: ExtensionScorer
) -> SearchResult:
    """CTC prefix beam search over one image.

    Each prefix keeps p_b (paths ending in blank) and p_nb (ending in its last token). Appending the
    prefix's own last token is only possible from p_b (a repeat needs a blank in between); from p_nb
    the same token just continues the last label. Prefixes are nodes of a tree (`parent`, `label`), so
    equal prefixes reached from different beams merge by node id. Extensions are scored as provisional
    keys and turned into nodes only when they survive the per-frame pruning to `beam_width`.
    """
    C = n_classes
    parent, label, state = [-1], [-1], [scorer.root()]
    facs: list[Sequence[float] | None] = [None]  # extension weights of each prefix, computed on first use
    fmax: list[float] = [0.0]  # their maximum, for early exits
    kids: dict[int, int] = {}  # parent * C + token -> child node
    beams: dict[int, list[float]] = {0: [1.0, 0.0]}  # node -> [p_b, p_nb]
    log_scale = 0.0

    def weights(node: int) -> Sequence[float]:
        f = facs[node]
        if f is None:
            f, fmax[node] = scorer.factors(state[node])
            facs[node] = f
        return f

    for pbl, row, cs in zip(frames.blank, frames.rows, frames.cands):
        if not cs:  # no token survived pruning: only blank/stay transitions, updated in place
            for node, e in beams.items():
                pb, pnb = e
                last = label[node]
                e[0] = (pb + pnb) * pbl
                e[1] = pnb * row[last] if last >= 0 else 0.0
            continue
        # 1. Continuations (blank, or the same last label) of every beam.
        nxt: dict[int, list[float]] = {}
        for node, (pb, pnb) in beams.items():
            last = label[node]
            nxt[node] = [(pb + pnb) * pbl, pnb * row[last] if last >= 0 else 0.0]
        # 2. Beams that extend another beam by one token receive that extension (with the full row,
        #    pruned or not, on frames that have candidates at all), so that equal prefixes merge.
        for node in beams:
            par = parent[node]
            if par in beams:
                c = label[node]
                ppb, ppnb = beams[par]
                nxt[node][1] += (ppb if c == label[par] else ppb + ppnb) * row[c] * weights(par)[c]
        # 3. New prefixes. With a full beam, the smallest continuation total bounds the beam_width-th
        #    best total from below, so an extension scoring less can never survive pruning: it is not
        #    stored, and since the candidates come best first, the loop stops at the first such one.
        floor = min(e[0] + e[1] for e in nxt.values()) if len(nxt) >= beam_width else 0.0
        top_p = cs[0][1]
        for node, (pb, pnb) in beams.items():
            tot = pb + pnb
            f = weights(node)
            bound = tot * fmax[node]
            if bound * top_p <= floor:
                continue
            last = label[node]
            base = node * C
            for c, p in cs:
                if bound * p <= floor:
                    break
                v = (pb if c == last else tot) * p * f[c]
                if v <= floor:
                    continue
                child = kids.get(base + c)
                if child is None:
                    nxt[~(base + c)] = [0.0, v]  # negative key: a prefix not created yet
                elif child not in beams:  # (beam children were handled in 2.)
                    nxt[child] = [0.0, v]
        tots = [e[0] + e[1] for e in nxt.values()]
        if len(nxt) > beam_width:
            thr = sorted(tots, reverse=True)[beam_width - 1]
            kept = [(k, e) for k, e in nxt.items() if e[0] + e[1] >= thr][:beam_width]
        else:
            kept = list(nxt.items())
        best = max(tots)
        if best <= 0.0:
            return SearchResult([], parent, label, state)  # every path is forbidden
        if best * _RESCALE < 1.0 or best > _RESCALE:
            for _, e in kept:
                e[0] /= best
                e[1] /= best
            log_scale += math.log(best)
        beams = {}
        for key, e in kept:
            if key < 0:  # materialise the surviving new prefix
                key = ~key
                par, c = divmod(key, C)
                node = len(parent)
                parent.append(par)
                label.append(c)
                state.append(scorer.child(state[par], c))
                facs.append(None)
                fmax.append(0.0)
                kids[key] = node
                beams[node] = e
            else:
                beams[key] = e
    final = [(n, math.log(e[0] + e[1]) + log_scale) for n, e in beams.items() if e[0] + e[1] > 0.0]
    return SearchResult(final, parent, label, state)


def ranked_hypotheses(
    result: SearchResult, tokens: Sequence[str], scorer: ExtensionScorer, top_n: int
) -> list[Hypothesis]:
    """Apply `scorer.finish`, sort, and keep the `top_n` best distinct texts."""
    scored = []
    for node, logp in result.beams:
        suffix, extra = scorer.finish(result.state[node])
        if extra == -math.inf:
            continue
        text = "".join(tokens[i] for i in result.labels(node)) + suffix
        scored.append((logp + extra, text))
    scored.sort(key=lambda st: -st[0])
    if not scored:  # every prefix was forbidden (e.g. no dictionary word fits): keep the list non-empty
        return [Hypothesis("", -math.inf)]
    out: list[Hypothesis] = []
    seen: set[str] = set()
    for s, text in scored:
        if text not in seen:
            seen.add(text)
            out.append(Hypothesis(text, float(s)))
            if len(out) == top_n:
                break
    return out


def check_search_args(beam_width: int, top_n: int, top_k: int) -> None:
    """The decoders' shared constructor check, so a bad config fails when the decoder is built."""
    if beam_width < 1 or top_n < 1 or top_k < 1:
        raise ValueError("beam_width, top_n and top_k must be >= 1")


def search_batch(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    tokens: Sequence[str],
    scorer: ExtensionScorer,
    beam_width: int,
    top_n: int,
    top_k: int,
    prune_log_prob: float,
    blank: int = 0,
) -> list[list[Hypothesis]]:
    """Prefix beam search of every image of a batch: (B, T, C) log-probs, (B,) lengths -> the `top_n`
    best hypotheses per image, after per-frame pruning (`top_k`, `prune_log_prob`)."""
    C = log_probs.shape[-1]
    if C != len(tokens):
        raise ValueError(f"log_probs have {C} classes but the decoder has {len(tokens)} tokens")
    out = []
    for frames in prepare_frames(log_probs, lengths, blank, top_k, prune_log_prob):
        result = prefix_beam_search(frames, C, beam_width, scorer)
        out.append(ranked_hypotheses(result, tokens, scorer, top_n))
    return out
