"""A character prefix tree over dictionary words, for lexicon-constrained CTC decoding."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class TrieNode:
    """One prefix. `word` is set when the prefix is itself a dictionary word; `best` is the most
    frequent dictionary word that starts with this prefix (used to complete a cut-off word)."""

    __slots__ = ("best", "best_count", "children", "count", "prefix", "word")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.children: dict[str, TrieNode] = {}
        self.word: str | None = None
        self.count = 0
        self.best: str | None = None
        self.best_count = 0

    @property
    def is_word(self) -> bool:
        return self.word is not None

    def __repr__(self) -> str:
        return f"TrieNode({self.prefix!r}, word={self.is_word}, children={''.join(self.children)!r})"


class Trie:
    """Words with counts; every node knows its prefix, whether it ends a word and its best completion."""

    def __init__(self, words: Iterable[str] | None = None) -> None:
        self.root = TrieNode("")
        self._size = 0
        for w in words or ():
            self.insert(w)

    def insert(self, word: str, count: int = 1) -> None:
        """Add `word` (counts accumulate when a word is inserted again). Empty words are ignored."""
        if not word:
            return
        node = self.root
        path = [node]
        for ch in word:
            nxt = node.children.get(ch)
            if nxt is None:
                nxt = node.children[ch] = TrieNode(node.prefix + ch)
            node = nxt
            path.append(node)
        if node.word is None:
            node.word = word
            self._size += 1
        node.count += count
        for n in path:  # the most frequent completion of every prefix on the way
            if node.count > n.best_count or (
                node.count == n.best_count and n.best is not None and word < n.best
            ):
                n.best, n.best_count = word, node.count

    def find(self, prefix: str) -> TrieNode | None:
        """The node of `prefix`, or None when no dictionary word starts with it."""
        node: TrieNode | None = self.root
        for ch in prefix:
            node = node.children.get(ch)
            if node is None:
                return None
        return node

    def __contains__(self, word: object) -> bool:
        node = self.find(word) if isinstance(word, str) else None
        return node is not None and node.is_word

    def __len__(self) -> int:
        return self._size

    def words(self) -> Iterator[str]:
        """All words, depth first."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.word is not None:
                yield node.word
            stack.extend(node.children.values())
