"""Text corpora for the character LM of `decoder=beam`: training texts, or a large corpus of language
knowledge that is not the test labels (generated German place/street names + dictionary word lists).

`lm_corpus` names the choice (CORPORA); `corpus_texts` assembles it, keeping only the lines the model
can write (every character in its charset), so the LM spends no probability on unwritable text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from htr_lit.data.synth.placenames import PlaceNameGenerator
from htr_lit.data.synth.words import DEFAULT_WORD_LISTS, load_word_lists

log = logging.getLogger(__name__)

CORPORA = ("train_texts", "names", "names+train_texts")


def uses_names(lm_corpus: str) -> bool:
    """Whether the corpus holds generated names and word lists (and so is big enough to cache)."""
    return lm_corpus.startswith("names")


def uses_train_texts(lm_corpus: str) -> bool:
    """Whether the corpus holds the training transcriptions (the checkpoint's, or decoder.lm_text's)."""
    return lm_corpus.endswith("train_texts")


def word_list_paths(word_lists: str | Sequence[str] | None) -> list[Path]:
    """The word list files: one path or a list; None is the Debian German + English lists (those present)."""
    if word_lists is None:
        return [p for p in DEFAULT_WORD_LISTS.values() if p.is_file()]
    items = [word_lists] if isinstance(word_lists, (str, Path)) else list(word_lists)
    return [Path(p).expanduser() for p in items]


def in_charset(texts: Sequence[str], charset: set[str]) -> list[str]:
    """The texts made only of `charset` characters (others would be text the model cannot write)."""
    return [t for t in texts if t and set(t) <= charset]


def names_corpus(
    charset: set[str], num_names: int, seed: int, word_lists: str | Sequence[str] | None
) -> list[str]:
    """`num_names` place/street names of `PlaceNameGenerator(seed)` + every word of the word lists (one
    text per word), restricted to `charset`. Deterministic for the same arguments and files."""
    names = in_charset(PlaceNameGenerator(seed).sample_many(num_names), charset) if num_names > 0 else []
    paths = word_list_paths(word_lists)
    words = [w for ws in load_word_lists(paths).values() for w in ws] if paths else []
    kept = in_charset(words, charset)
    log.info(
        "LM corpus: %d generated names (seed %d) + %d of %d words of %s (the others have characters "
        "outside the model's charset)", len(names), seed, len(kept), len(words),
        ", ".join(map(str, paths)) or "no word list",
    )
    return names + kept


def names_corpus_files(word_lists: str | Sequence[str] | None) -> list[Path]:
    """Every file `names_corpus` reads (word lists, vendored name lists, the generator's code): what a
    cache of an LM fitted on it must be keyed on."""
    from htr_lit.assets import NAMES_DIR
    from htr_lit.data.synth import placenames, words

    code = [Path(placenames.__file__), Path(words.__file__)]
    return [*word_list_paths(word_lists), *sorted(Path(NAMES_DIR).glob("*.txt")), *code]
