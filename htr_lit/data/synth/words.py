"""Word lists and the text sampler of the synthetic data: English + German words, numbers, mixed tokens.

The lists are the offline Debian dictionaries (wamerican, wngerman), so generation needs no network.
Words are kept per list so that each language gets half of the samples whatever the list sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from htr_lit.errors import UserError

DEFAULT_WORD_LISTS: dict[str, Path] = {
    "en": Path("/usr/share/dict/american-english"),  # Debian wamerican
    "de": Path("/usr/share/dict/ngerman"),  # Debian wngerman
}
MAX_WORD_LEN = 20
SHORT_WORD_LEN = 4  # real text is full of short words; dictionaries are not, so these are oversampled
_WORD_RE = re.compile(r"[a-zA-ZäöüÄÖÜß]+")

# What a sampled text is, with its probability.
TEXT_KINDS: dict[str, float] = {
    "plain": 0.62,  # as in the list (German nouns keep their capital)
    "capitalised": 0.15,
    "upper": 0.05,  # short words only
    "number": 0.10,
    "word_digit": 0.03,  # A4, 12b, Haus2
    "punctuated": 0.05,  # Haus, end. wirklich!
}
SHORT_WORD_P = 0.25
UPPER_MAX_LEN = 8
PUNCTUATION = {",": 0.45, ".": 0.35, "!": 0.1, "?": 0.1}


class WordListError(UserError, FileNotFoundError):
    """A word list is missing or yields no usable word."""


def clean_words(lines: Iterable[str]) -> list[str]:
    """Keep words of 1..20 letters from a-z A-Z äöüÄÖÜß (possessives and other characters are dropped).

    The order of first occurrence is kept and duplicates removed, so the result is deterministic.
    """
    seen: dict[str, None] = {}
    for line in lines:
        word = line.strip()
        if 1 <= len(word) <= MAX_WORD_LEN and _WORD_RE.fullmatch(word):
            seen.setdefault(word, None)
    return list(seen)


def _missing_lists_message(paths: Sequence[Path]) -> str:
    """The error text when no word list could be read."""
    listed = "\n".join(f"  {p}" for p in paths)
    return (
        f"no word list found; looked for:\n{listed}\n"
        "Install the default lists with `make system-deps` (or `apt-get install wamerican wngerman`), "
        "or pass other plain-text lists (one word a line) via the config key `data.source.word_lists` / --word-list."
    )


def _named_lists(word_lists: Sequence[str | Path] | None) -> dict[str, Path]:
    """Name each list: "en"/"de" for the defaults, the file stem (or full path if taken) otherwise."""
    if word_lists is None:
        return dict(DEFAULT_WORD_LISTS)
    if isinstance(word_lists, (str, Path)):
        word_lists = [word_lists]
    named: dict[str, Path] = {}
    for item in word_lists:
        path = Path(item).expanduser()
        named[path.stem if path.stem not in named else str(path)] = path
    return named


def load_word_lists(word_lists: Sequence[str | Path] | None = None) -> dict[str, list[str]]:
    """Read and clean each word list; returns {list name: words}.

    With None, the Debian English and German lists are used (a missing one is skipped as long as the
    other exists); a list given explicitly must exist. Raises WordListError naming the paths otherwise.
    """
    named = _named_lists(word_lists)
    missing = [p for p in named.values() if not p.is_file()]
    if missing and (word_lists is not None or len(missing) == len(named)):
        raise WordListError(_missing_lists_message(missing))
    result: dict[str, list[str]] = {}
    for name, path in named.items():
        if path.is_file():
            words = clean_words(path.read_text(encoding="utf-8", errors="replace").splitlines())
            if not words:
                raise WordListError(f"word list {path} has no usable word (letters a-z, äöüß, 1..20 long)")
            result[name] = words
    return result


class WordSampler:
    """Draws word-image texts: words of each list in equal shares, in several casings, plus numbers.

    Every draw uses the generator passed to `sample`, so a caller can derive one per sample for determinism.
    """

    def __init__(self, words_by_lang: Mapping[str, Sequence[str]]) -> None:
        self.words = {lang: list(ws) for lang, ws in words_by_lang.items() if ws}
        if not self.words:
            raise WordListError("WordSampler needs at least one non-empty word list")
        self.langs = list(self.words)
        self.short = {lang: [w for w in ws if len(w) <= SHORT_WORD_LEN] or ws for lang, ws in self.words.items()}
        self.upper_ok = {
            lang: [w for w in ws if len(w) <= UPPER_MAX_LEN] or ws for lang, ws in self.words.items()
        }
        self._kinds = list(TEXT_KINDS)
        self._kind_p = np.array(list(TEXT_KINDS.values())) / sum(TEXT_KINDS.values())

    def sample(self, rng: np.random.Generator) -> str:
        """One text; its kind is drawn with the TEXT_KINDS probabilities."""
        kind = self._kinds[rng.choice(len(self._kinds), p=self._kind_p)]
        if kind == "number":
            return sample_number(rng)
        if kind == "word_digit":
            return self._word_digit(rng)
        if kind == "upper":
            return self._word(rng, self.upper_ok).upper()
        word = self._word(rng)
        if kind == "capitalised":
            return word[:1].upper() + word[1:]
        if kind == "punctuated":
            marks = list(PUNCTUATION)
            return word + marks[rng.choice(len(marks), p=list(PUNCTUATION.values()))]
        return word

    def _word(self, rng: np.random.Generator, pool: Mapping[str, list[str]] | None = None) -> str:
        """A word of a uniformly drawn language; short words are oversampled."""
        lang = self.langs[rng.integers(len(self.langs))]
        if pool is None:
            pool = self.short if rng.random() < SHORT_WORD_P else self.words
        words = pool[lang]
        return words[rng.integers(len(words))]

    def _word_digit(self, rng: np.random.Generator) -> str:
        """Mixed letter/digit tokens: "A4", "12b", "Haus2"."""
        form = rng.integers(3)
        if form == 0:
            return chr(ord("A") + rng.integers(26)) + str(rng.integers(1, 100))
        if form == 1:
            return str(rng.integers(1, 1000)) + chr(ord("a") + rng.integers(26))
        return self._word(rng, self.short) + str(rng.integers(1, 10))


def _digits(rng: np.random.Generator, n: int) -> str:
    """An n-digit number without a leading zero."""
    return str(rng.integers(1 if n == 1 else 10 ** (n - 1), 10**n))


def sample_number(rng: np.random.Generator) -> str:
    """A number as written in text: integers of 1-6 digits, years, decimals (3.14, 3,5), ordinals (12.)."""
    form = rng.random()
    if form < 0.5:
        return _digits(rng, int(rng.choice(6, p=[0.25, 0.25, 0.2, 0.12, 0.1, 0.08])) + 1)
    if form < 0.7:
        return str(rng.integers(1800, 2030))
    if form < 0.88:
        sep = "." if rng.random() < 0.5 else ","
        frac = str(rng.integers(0, 100)).zfill(2) if rng.random() < 0.5 else str(rng.integers(0, 10))
        return _digits(rng, int(rng.integers(1, 4))) + sep + frac
    return str(rng.integers(1, 32)) + "."
