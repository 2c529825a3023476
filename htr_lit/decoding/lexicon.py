"""Dictionary-constrained CTC decoding: word beam search (closest-word scoring is in `closest.py`).

`WordBeamSearchDecoder` follows CTC word beam search (Scheidl et al., ICFHR 2018): tokens are split
into word characters (letters by default) and non-word characters (digits, punctuation, space).
Inside a word a beam may only follow the dictionary's prefix tree; non-word characters are free
between words, so numbers and punctuation stay decodable. Mode "words" uses the dictionary only,
"ngrams" adds a word unigram/bigram LM applied each time a word is completed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch

from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.lm import WordBigramLM
from htr_lit.decoding.prefix_search import check_search_args, search_batch
from htr_lit.decoding.trie import Trie, TrieNode

MODES = ("words", "ngrams")


def word_char_test(word_chars: str | None) -> Callable[[str], bool]:
    """`str.isalpha` (letters of any script, incl. äöüß) unless an explicit set of characters is given."""
    if word_chars is None:
        return str.isalpha
    allowed = frozenset(word_chars)
    return allowed.__contains__


def split_words(text: str, word_chars: str | None = None) -> list[str]:
    """The maximal runs of word characters in `text`, in order."""
    is_word = word_char_test(word_chars)
    words, cur = [], []
    for ch in text:
        if is_word(ch):
            cur.append(ch)
        elif cur:
            words.append("".join(cur))
            cur = []
    if cur:
        words.append("".join(cur))
    return words


def words_from_texts(texts: Iterable[str], word_chars: str | None = None) -> Counter[str]:
    """Word counts of training labels (maximal runs of word characters), e.g. to build a dictionary."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(split_words(t, word_chars))
    return counts


def _fold(text: str, ignore_case: bool) -> str:
    """The dictionary's spelling of `text`: lower case when `ignore_case` (kept as is where lowering
    would change the length, as for "İ")."""
    if not ignore_case:
        return text
    low = text.lower()
    return low if len(low) == len(text) else text


def _dictionary(
    words: Iterable[str] | Mapping[str, int], tokens: Sequence[str], word_chars: str | None,
    ignore_case: bool = False,
) -> tuple[Counter[str], int]:
    """Word counts restricted to words spellable with `tokens` (lower-cased when `ignore_case`);
    also how many distinct words were dropped."""
    pairs = words.items() if isinstance(words, Mapping) else ((w, 1) for w in words)
    known = {_fold(t, ignore_case) for t in tokens if t}
    counts: Counter[str] = Counter()
    dropped: set[str] = set()
    for w, n in pairs:
        for part in split_words(_fold(w, ignore_case), word_chars):
            if set(part) <= known:
                counts[part] += int(n)
            else:
                dropped.add(part)
    return counts, len(dropped)


class _WordScorer:
    """Extension rules of word beam search. State: (trie node of the word being written, or None
    between words; the last completed word, for the bigram LM)."""

    def __init__(
        self,
        tokens: Sequence[str],
        trie: Trie,
        is_word_char: Callable[[str], bool],
        word_lm: WordBigramLM | None,
        lm_weight: float,
        blank: int,
        ignore_case: bool = False,
    ) -> None:
        self.tokens, self.trie, self.word_lm, self.lm_weight = list(tokens), trie, word_lm, lm_weight
        self.C = len(self.tokens)
        self.word_tok = [i != blank and len(t) == 1 and is_word_char(t) for i, t in enumerate(self.tokens)]
        self.other_tok = [i for i, t in enumerate(self.tokens) if i != blank and t and not self.word_tok[i]]
        # Trie character -> the tokens that spell it ("h" -> "h" and "H" when ignoring case).
        self.key = [_fold(t, ignore_case) for t in self.tokens]
        self.index: dict[str, list[int]] = {}
        for i, t in enumerate(self.key):
            if self.word_tok[i]:
                self.index.setdefault(t, []).append(i)
        self._cache: dict[Any, tuple[list[float], float]] = {}
        self._outside = self._weights(trie.root, 1.0)

    def _weights(self, node: TrieNode, other: float) -> tuple[list[float], float]:
        """Weight 1 for the word characters that continue `node`, `other` for non-word characters."""
        f = [0.0] * self.C
        for ch in node.children:
            for i in self.index.get(ch, ()):
                f[i] = 1.0
        for i in self.other_tok:
            f[i] = other
        return f, max(f)

    def completion_log_weight(self, word: str, prev: str | None) -> float:
        return self.lm_weight * self.word_lm.log_prob(word, prev) if self.word_lm is not None else 0.0

    def root(self) -> Any:
        return (None, None)

    def factors(self, state: Any) -> tuple[list[float], float]:
        node, prev = state
        if node is None:
            return self._outside
        key = (node, prev) if node.word is not None and self.word_lm is not None else node
        f = self._cache.get(key)
        if f is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            other = math.exp(self.completion_log_weight(node.word, prev)) if node.word is not None else 0.0
            f = self._cache[key] = self._weights(node, other)
        return f

    def child(self, state: Any, token: int) -> Any:
        node, prev = state
        if self.word_tok[token]:
            return ((node or self.trie.root).children[self.key[token]], prev)
        return (None, node.word if node is not None else prev)

    def finish(self, state: Any) -> tuple[str, float]:
        """A word still open at the end is closed; a prefix that is no word yet is completed with its
        most frequent dictionary continuation (so the output is always made of dictionary words)."""
        node, prev = state
        if node is None:
            return "", 0.0
        word = node.word if node.word is not None else node.best
        assert word is not None  # every trie node lies on the path of some word
        return word[len(node.prefix) :], self.completion_log_weight(word, prev)


class WordBeamSearchDecoder:
    """CTC word beam search over a dictionary (Scheidl et al. 2018), modes "words" and "ngrams".

    `words` is the dictionary (an iterable, or a mapping word -> count that also gives the unigram
    counts for "ngrams"); each entry is split into runs of word characters, and words that the tokens
    cannot spell are dropped (`self.dropped` counts them). `texts` (optional, "ngrams" only) supply
    bigram counts, e.g. the training labels; `from_texts` builds both from the labels.
    Scores: log P_ctc + lm_weight * sum of log P_word(word | previous word) in "ngrams" mode.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        words: Iterable[str] | Mapping[str, int],
        beam_width: int = 16,
        mode: str = "words",
        lm_weight: float = 1.0,
        word_chars: str | None = None,
        texts: Iterable[str] | None = None,
        top_n: int = 1,
        prune_log_prob: float = -12.0,
        blank: int = 0,
        top_k: int = 8,
        ignore_case: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        check_search_args(beam_width, top_n, top_k)
        self.tokens = list(tokens)
        self.beam_width, self.mode, self.top_n, self.top_k = beam_width, mode, top_n, top_k
        self.prune_log_prob, self.blank = prune_log_prob, blank
        counts, self.dropped = _dictionary(words, self.tokens, word_chars, ignore_case)
        if not counts:
            raise ValueError("the dictionary has no word that the tokens can spell")
        self.trie = Trie(counts)
        word_lm = None
        if mode == "ngrams":
            bigrams: Counter[tuple[str, str]] = Counter()
            for t in texts or ():
                seq = split_words(_fold(t, ignore_case), word_chars)
                bigrams.update(zip(seq[:-1], seq[1:]))
            word_lm = WordBigramLM(counts, bigrams)
        self.word_lm = word_lm
        self.scorer = _WordScorer(
            self.tokens, self.trie, word_char_test(word_chars), word_lm, lm_weight, blank, ignore_case
        )

    @classmethod
    def from_texts(
        cls, tokens: Sequence[str], texts: Iterable[str], word_chars: str | None = None, **kwargs: Any
    ) -> WordBeamSearchDecoder:
        """Dictionary, unigram and bigram counts all from training labels."""
        texts = list(texts)
        return cls(tokens, words_from_texts(texts, word_chars), word_chars=word_chars, texts=texts, **kwargs)

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        return search_batch(
            log_probs, lengths, self.tokens, self.scorer, self.beam_width, self.top_n, self.top_k,
            self.prune_log_prob, self.blank,
        )
