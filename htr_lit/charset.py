"""Character set: maps characters to class indices, with the CTC blank at index 0."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def min_ctc_frames(labels: Sequence[int] | str) -> int:
    """Frames CTC needs to emit a label: its length plus one blank between each adjacent repeated pair
    ("aa" needs a-blank-a). A label longer than its image's frames cannot be learned."""
    return len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))


class Charset:
    """Characters seen in the training labels; index 0 is the CTC blank.

    Characters missing from the charset are dropped by `encode` (reported by `unknown`), so that an
    unseen character at evaluation time counts as an error instead of crashing the run.
    """

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("charset has duplicate characters")
        if any(len(c) != 1 for c in chars):
            raise ValueError("charset entries must be single characters")
        self.chars: list[str] = list(chars)
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Charset:
        return cls(sorted({c for t in texts for c in t}))

    @property
    def num_classes(self) -> int:
        """Characters + blank: the width of the model's output layer."""
        return len(self.chars) + 1

    @property
    def tokens(self) -> list[str]:
        """Index -> string, with "" for the blank; what decoders take."""
        return ["", *self.chars]

    def encode(self, text: str) -> list[int]:
        return [self._index[c] for c in text if c in self._index]

    def unknown(self, text: str) -> set[str]:
        return {c for c in text if c not in self._index}

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"Charset({len(self.chars)} chars: {''.join(self.chars)!r})"
