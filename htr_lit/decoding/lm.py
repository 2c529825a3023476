"""Small language models for CTC decoding: a character n-gram LM and a word unigram/bigram LM.

Both use interpolated Witten-Bell smoothing: no tuning knobs, and every distribution is a proper one
(it sums to 1 over the vocabulary + the unknown symbol + the end symbol). The LMs are estimated at eval
time from the checkpoint's training transcriptions or a larger corpus (see `lm_corpus`); only the
big-corpus character LM is kept on disk (`lm_cache`), never in a checkpoint.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

BOS = "\x02"  # begin-of-word padding inside contexts
EOW = "\x03"  # end-of-word event


class CharNgramLM:
    """Character n-gram LM over words (or lines) with begin/end-of-word symbols.

    The symbols are `vocab` (sorted characters) + `<unk>` + `</w>`; `symbol_index` maps them to the
    positions of `log_probs_state`. Characters never seen in training share the `<unk>` probability.
    The LM is meant to be fitted once (`fit`) and then only queried; queries are LRU-cached on the
    last `order - 1` symbols, which is all the model looks at.
    """

    def __init__(self, order: int = 4, cache_size: int = 65536) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.cache_size = cache_size
        self.vocab: list[str] = []
        self.counts: dict[str, dict[str, int]] = {}  # context (0..order-1 symbols) -> next symbol -> count
        self._rebuild()

    # ------------------------------------------------------------------ training
    def fit(self, texts: Iterable[str], extra_chars: Iterable[str] = ()) -> CharNgramLM:
        """Count n-grams of every text (each padded with begin symbols and closed by `</w>`).

        `extra_chars` (e.g. the model's charset) join the vocabulary even when unseen, so that they get
        their own smoothed probability instead of the shared `<unk>` one. Refitting starts from scratch.
        Counting is vectorised (numpy) so that corpora of millions of characters fit in seconds.
        """
        texts = list(texts)
        chars: set[str] = set(extra_chars)
        for text in texts:
            chars.update(text)
        if BOS in chars or EOW in chars:
            raise ValueError("texts must not contain the control characters \\x02 / \\x03")
        self.vocab = sorted(chars)
        self.counts = _count_ngrams(texts, self.order)
        self._rebuild()
        return self

    def __getstate__(self) -> dict[str, Any]:  # pickle / deepcopy without the (unpicklable) query cache
        return {k: v for k, v in self.__dict__.items() if k != "_cached"}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._cached = lru_cache(maxsize=self.cache_size)(self._compute)  # bound to this object

    # ------------------------------------------------------------------ queries
    @property
    def unk_index(self) -> int:
        return len(self.vocab)

    @property
    def end_index(self) -> int:
        return len(self.vocab) + 1

    def symbol_index(self, char: str) -> int:
        """Position of `char` in the distribution (`<unk>` for unseen or multi-character strings)."""
        return self._index.get(char, self.unk_index)

    def token_map(self, tokens: Sequence[str]) -> np.ndarray:
        """For a decoder's token list: token index -> LM symbol index (the blank maps to `<unk>`)."""
        return np.array([self.symbol_index(t) for t in tokens], dtype=np.int64)

    def initial_state(self) -> str:
        """The state (= the last `order - 1` symbols) of an empty word."""
        return BOS * (self.order - 1)

    def advance(self, state: str, chars: str) -> str:
        """The state after appending `chars` (one token's text) to the word of `state`."""
        k = self.order - 1
        return (state + chars)[-k:] if k else ""

    def log_probs_state(self, state: str) -> np.ndarray:
        """Natural-log distribution over vocab + `<unk>` + `</w>` after `state` (read-only, cached)."""
        return self._cached(state)

    # ------------------------------------------------------------------ internals
    def _rebuild(self) -> None:
        """Index the counts as arrays and reset the query cache (after fit)."""
        self._index = {c: i for i, c in enumerate(self.vocab)}
        self._index[EOW] = len(self.vocab) + 1
        n_sym = len(self.vocab) + 2
        self._tables: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for ctx, nxt in self.counts.items():
            idx = np.array([self._index.get(s, n_sym - 2) for s in nxt], dtype=np.int64)
            cnt = np.array(list(nxt.values()), dtype=np.float64)
            total, types = float(cnt.sum()), float(len(cnt))
            # Witten-Bell: P(w|h) = (c(h,w) + T(h) P(w|h')) / (c(h) + T(h))
            self._tables[ctx] = (idx, cnt / (total + types), types / (total + types))
        self._uniform = np.full(n_sym, 1.0 / n_sym)
        self._cached = lru_cache(maxsize=self.cache_size)(self._compute)

    def _compute(self, state: str) -> np.ndarray:
        p = self._uniform.copy()
        for k in range(len(state) + 1):  # context lengths 0 .. order-1, lower orders first
            table = self._tables.get(state[len(state) - k :])
            if table is None:
                break  # a longer context is unseen too
            idx, scaled, backoff = table
            p *= backoff
            p[idx] += scaled  # idx is unique: one entry per distinct next symbol
        out = np.log(p)
        out.flags.writeable = False
        return out


def _count_ngrams_loop(texts: Sequence[str], n: int) -> dict[str, dict[str, int]]:
    """Reference counting, one n-gram at a time: context (0..n-1 symbols) -> next symbol -> count."""
    counts: dict[str, Counter[str]] = {}
    for text in texts:
        padded = BOS * (n - 1) + text + EOW
        for i in range(n - 1, len(padded)):
            for k in range(n):  # contexts of length 0 .. n-1
                counts.setdefault(padded[i - k : i], Counter())[padded[i]] += 1
    return {ctx: dict(c) for ctx, c in counts.items()}


def _count_ngrams(texts: Sequence[str], n: int, chunk_chars: int = 1 << 20) -> dict[str, dict[str, int]]:
    """The counts of `_count_ngrams_loop`, summed over chunks of about `chunk_chars` characters (so that
    the arrays of a corpus of millions of characters stay small)."""
    counts: dict[str, dict[str, int]] = {}
    start, size = 0, 0
    for i, text in enumerate(texts):
        size += len(text) + n
        if size >= chunk_chars or i == len(texts) - 1:
            for ctx, nxt in _count_chunk(texts[start : i + 1], n).items():
                total = counts.setdefault(ctx, {})
                for sym, c in nxt.items():
                    total[sym] = total.get(sym, 0) + c
            start, size = i + 1, 0
    return counts


def _count_chunk(texts: Sequence[str], n: int) -> dict[str, dict[str, int]]:
    """The counts of `_count_ngrams_loop`, computed on the concatenation of the padded texts.

    Every m-gram (m = 1..n) of the concatenation is coded as one integer (base = alphabet size) and
    counted with `np.unique`; the m-grams that are not n-grams of a single padded text are exactly
    those whose last symbol is a begin symbol or whose context holds an end symbol, and are dropped.
    """
    joined = "".join(BOS * (n - 1) + text + EOW for text in texts)
    if not joined:
        return {}
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)  # one code point per symbol
    alphabet = np.array(sorted(set(joined)))
    base = len(alphabet)
    if base**n >= 2**62:  # the m-gram codes would overflow int64 (huge order or alphabet)
        return _count_ngrams_loop(texts, n)
    lut = np.zeros(int(points.max()) + 1, dtype=np.int64)
    lut[[ord(c) for c in alphabet]] = np.arange(base)
    codes = lut[points]  # (L,) symbol index in `alphabet`
    del points, lut
    symbols = alphabet.astype(object)
    index = {c: i for i, c in enumerate(alphabet.tolist())}
    bos, eow = index.get(BOS, -1), index[EOW]  # order 1 has no begin symbols
    eow_before = np.concatenate([np.zeros(1, np.int32), np.cumsum(codes == eow, dtype=np.int32)])  # in codes[:i]
    counts: dict[str, dict[str, int]] = {}
    gram = np.zeros(len(codes), dtype=np.int64)
    for m in range(1, n + 1):  # gram[i] codes the m-gram ending at position i
        gram[m - 1 :] = gram[m - 2 : -1] * base + codes[m - 1 :] if m > 1 else codes
        keep = (codes[m - 1 :] != bos) & (eow_before[m - 1 : -1] == eow_before[: len(codes) - m + 1])
        uniq, cnt = np.unique(gram[m - 1 :][keep], return_counts=True)
        digits = [symbols[(uniq // base**j) % base] for j in range(m - 1, -1, -1)]  # oldest symbol first
        contexts = ["".join(t) for t in zip(*digits[:-1])] if m > 1 else [""] * len(uniq)
        for ctx, sym, c in zip(contexts, digits[-1].tolist(), cnt.tolist()):
            counts.setdefault(ctx, {})[sym] = c
    return counts


class WordBigramLM:
    """Word unigram + bigram LM (interpolated Witten-Bell over an add-one unigram), for word beam search.

    `log_prob(word, prev)` with `prev=None` is the unigram; unseen words get the add-one mass, so a
    dictionary word without counts is unlikely but possible.
    """

    def __init__(
        self, unigrams: Mapping[str, int], bigrams: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self.unigrams = dict(unigrams)
        self._total = sum(self.unigrams.values())
        self._types = len(self.unigrams)
        self._follow: dict[str, dict[str, int]] = {}
        for (a, b), c in (bigrams or {}).items():
            follow = self._follow.setdefault(a, {})
            follow[b] = follow.get(b, 0) + c
        self._follow_tot = {a: (sum(d.values()), len(d)) for a, d in self._follow.items()}

    def unigram(self, word: str) -> float:
        return (self.unigrams.get(word, 0) + 1) / (self._total + self._types + 1)

    def log_prob(self, word: str, prev: str | None = None) -> float:
        p = self.unigram(word)
        if prev is not None and prev in self._follow:
            total, types = self._follow_tot[prev]
            p = (self._follow[prev].get(word, 0) + types * p) / (total + types)
        return math.log(p)
