"""A character prefix tree over dictionary words, for lexicon-constrained CTC decoding.

The words are kept as one sorted array and the nodes are built lazily, the first time the search
reaches a prefix: the words starting with a prefix are one contiguous range of the array, found by
bisection. A 400k-word dictionary (a language's full word list) then loads in about a second and a
few tens of MB, instead of the minutes and hundreds of MB an eager node-per-prefix tree costs in Python.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping

_END = "\U0010ffff"  # sorts after every character: prefix + _END bounds the range of a prefix


class TrieNode:
    """One prefix: the words in `[lo, hi)` of the trie's sorted array start with it.

    `word` is set when the prefix is itself a dictionary word; `best` is the most frequent dictionary
    word that starts with this prefix (used to complete a cut-off word); `children` maps each next
    character to its node. All three are computed on first use and cached.
    """

    __slots__ = ("_best", "_children", "lo", "hi", "prefix", "trie", "word")

    def __init__(self, trie: Trie, prefix: str, lo: int, hi: int) -> None:
        self.trie, self.prefix, self.lo, self.hi = trie, prefix, lo, hi
        words = trie.sorted_words
        self.word: str | None = prefix if lo < hi and words[lo] == prefix and prefix else None
        self._children: dict[str, TrieNode] | None = None
        self._best: str | None = None

    @property
    def children(self) -> dict[str, TrieNode]:
        if self._children is None:
            words, n = self.trie.sorted_words, len(self.prefix)
            kids: dict[str, TrieNode] = {}
            i = self.lo + (self.word is not None)  # the prefix itself sorts first; it has no next char
            while i < self.hi:
                ch = words[i][n]
                end = bisect_left(words, self.prefix + ch + _END, i, self.hi)
                kids[ch] = TrieNode(self.trie, self.prefix + ch, i, end)
                i = end
            self._children = kids
        return self._children

    @property
    def best(self) -> str | None:
        """Most frequent word of the range; ties go to the alphabetically first one."""
        if self._best is None and self.lo < self.hi:
            counts = self.trie.counts
            i = max(range(self.lo, self.hi), key=lambda j: (counts[j], -j))
            self._best = self.trie.sorted_words[i]
        return self._best

    def __repr__(self) -> str:
        return f"TrieNode({self.prefix!r}, word={self.word is not None}, words={self.hi - self.lo})"


class Trie:
    """Words with counts (an iterable, where repeats add up, or a mapping word -> count).

    Every node knows its prefix, whether it ends a word and its best completion. Nodes are made
    on demand (walk `root.children`) and kept, so a search only pays for the prefixes it visits.
    """

    def __init__(self, words: Iterable[str] | Mapping[str, int] = ()) -> None:
        counts = Counter(dict(words)) if isinstance(words, Mapping) else Counter(words)
        counts.pop("", None)
        self.sorted_words: list[str] = sorted(counts)
        self.counts: list[int] = [counts[w] for w in self.sorted_words]
        self.root = TrieNode(self, "", 0, len(self.sorted_words))
