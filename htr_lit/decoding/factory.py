"""Build the decoder chosen with `decoder=...` (conf/decoder/*.yaml) for a loaded checkpoint.

Each config is a `_partial_` of one of the small factories below; `build_decoder` fills in what comes
from the checkpoint: the model's tokens and its training transcriptions (`train_texts`), from which the
character LM and the dictionaries are estimated. A user file (`lm_text`, `words_file`) replaces them,
e.g. for checkpoints saved before `train_texts` existed or slim ones with `train_texts: []`; the beam's
LM can instead use a corpus of generated place names + word lists (`lm_corpus`, decoder=beam_names).
Nothing is ever built from the test labels.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from htr_lit.data.synth.words import WordListError
from htr_lit.decoding.base import Decoder
from htr_lit.decoding.beam import BeamSearchDecoder
from htr_lit.decoding.closest import ClosestWordDecoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.decoding.lexicon import WordBeamSearchDecoder
from htr_lit.decoding.lm import CharNgramLM
from htr_lit.decoding.lm_cache import cached_lm, fingerprint
from htr_lit.decoding.lm_corpus import CORPORA, names_corpus, names_corpus_files, uses_names, uses_train_texts
from htr_lit.errors import UserError

log = logging.getLogger(__name__)


class DecoderConfigError(UserError, ValueError):
    """A decoder that cannot be built as configured (e.g. it needs texts the checkpoint lacks)."""


def _read_lines(path: str | Path, key: str) -> list[str]:
    """Non-empty lines of a UTF-8 text file named by config key `key` (named in the error)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DecoderConfigError(f"{key}={path}: no such file")
    lines = [line.strip() for line in p.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def _texts(
    train_texts: Sequence[str] | None,
    path: str | Sequence[str] | None,
    key: str,
    why: str,
    name: str,
    instead: str = "",
) -> list[str]:
    """The user's file(s) when given, else the checkpoint's training transcriptions, else a clear error
    that names `key` and the option `instead` that needs no training texts."""
    if path:
        paths = [path] if isinstance(path, (str, Path)) else list(path)
        texts = [line for p in paths for line in _read_lines(p, key)]
        log.info("decoder=%s: %s from %s (%d lines)", name, why, ", ".join(map(str, paths)), len(texts))
    elif train_texts:
        texts = list(train_texts)
        log.info("decoder=%s: %s from the checkpoint's %d training transcriptions", name, why, len(texts))
    else:
        kind = "an empty 'train_texts' (a slim checkpoint)" if train_texts is not None else (
            "no 'train_texts' (saved by an older htr-lit)")
        raise DecoderConfigError(
            f"decoder={name} needs training texts for its {why}, but this checkpoint has {kind}: "
            f"{instead + ', or ' if instead else ''}pass {key}=FILE, a UTF-8 file with one training "
            "transcription per line (never the test labels)"
        )
    if not texts:
        raise DecoderConfigError(f"decoder={name}: {key} gives no text to build the {why} from")
    return texts


def greedy(tokens: Sequence[str], train_texts: Sequence[str] | None = None, top_n: int = 1) -> GreedyDecoder:
    """Best path: one hypothesis per image whatever `top_n` asks (use decoder=beam for n-best lists)."""
    if top_n > 1:
        log.warning("decoder=greedy gives one hypothesis per image; top_n=%d needs decoder=beam or lexicon", top_n)
    return GreedyDecoder(tokens)


def beam(
    tokens: Sequence[str],
    train_texts: Sequence[str] | None = None,
    beam_width: int = 16,
    lm_order: int = 4,
    lm_weight: float = 0.5,
    insertion_bonus: float = 0.0,
    top_n: int = 1,
    lm_text: str | None = None,
    prune_log_prob: float = -12.0,
    top_k: int = 8,
    lm_corpus: str = "train_texts",
    lm_num_names: int = 200_000,
    lm_seed: int = 0,
    lm_word_lists: str | Sequence[str] | None = None,
    lm_cache_dir: str | None = None,
) -> BeamSearchDecoder:
    """Prefix beam search; with `lm_weight > 0`, fused with a character `lm_order`-gram LM estimated on
    `lm_corpus`: the checkpoint's training transcriptions (or `lm_text`, one text per line), and/or
    `lm_num_names` generated place names + the words of `lm_word_lists` (cached in `lm_cache_dir`)."""
    lm = None
    if lm_weight != 0.0:
        lm = char_lm(tokens, train_texts, lm_order, lm_text, lm_corpus, lm_num_names, lm_seed, lm_word_lists,
                     lm_cache_dir)
    return BeamSearchDecoder(
        tokens, beam_width=beam_width, lm=lm, lm_weight=lm_weight, insertion_bonus=insertion_bonus,
        top_n=top_n, prune_log_prob=prune_log_prob, top_k=top_k,
    )


def char_lm(
    tokens: Sequence[str],
    train_texts: Sequence[str] | None,
    lm_order: int,
    lm_text: str | None,
    lm_corpus: str,
    lm_num_names: int,
    lm_seed: int,
    lm_word_lists: str | Sequence[str] | None,
    lm_cache_dir: str | None,
) -> CharNgramLM:
    """The character LM of decoder=beam on its `lm_corpus` (see `htr_lit.decoding.lm_corpus`)."""
    if lm_corpus not in CORPORA:
        raise DecoderConfigError(f"decoder.lm_corpus={lm_corpus}: choose one of {' | '.join(CORPORA)}")
    charset = sorted({t for t in tokens if t})
    texts: list[str] = []
    if uses_train_texts(lm_corpus):
        instead = "use decoder=beam_names (decoder.lm_corpus=names: generated place names + word lists)"
        texts = _texts(train_texts, lm_text, "decoder.lm_text", "character LM", "beam", instead)
    if not uses_names(lm_corpus):
        return CharNgramLM(lm_order).fit(texts, extra_chars=charset)
    if lm_num_names < 0:
        raise DecoderConfigError(f"decoder.lm_num_names={lm_num_names}: must be >= 0")
    word_lists = OmegaConf.to_container(lm_word_lists) if isinstance(lm_word_lists, ListConfig) else lm_word_lists
    settings = {
        "order": lm_order, "corpus": lm_corpus, "num_names": lm_num_names, "seed": lm_seed, "charset": charset,
        "inputs": fingerprint(names_corpus_files(word_lists), texts),
    }

    def build() -> CharNgramLM:
        try:
            corpus = names_corpus(set(charset), lm_num_names, lm_seed, word_lists)
        except WordListError as e:
            raise DecoderConfigError(f"decoder.lm_word_lists: {e}") from e
        if not corpus + texts:
            raise DecoderConfigError(f"decoder.lm_corpus={lm_corpus} has no text in the model's charset")
        return CharNgramLM(lm_order).fit(corpus + texts, extra_chars=charset)

    return cached_lm(settings, build, lm_cache_dir)


def lexicon(
    tokens: Sequence[str],
    train_texts: Sequence[str] | None = None,
    mode: str = "words",
    beam_width: int = 16,
    lm_weight: float = 1.0,
    top_n: int = 1,
    words_file: str | Sequence[str] | None = None,
    word_chars: str | None = None,
    prune_log_prob: float = -12.0,
    top_k: int = 8,
    ignore_case: bool = False,
) -> WordBeamSearchDecoder:
    """Word beam search over the words (runs of letters, or of `word_chars`) of the training
    transcriptions or of `words_file` (one file or a list); "ngrams" adds word unigram/bigram counts
    from the same texts. `ignore_case` matches "Haus", "haus" and "HAUS" to the same dictionary word."""
    texts = _texts(train_texts, words_file, "decoder.words_file", "dictionary", "lexicon",
                   "use decoder=lexicon_wordlists (the German + English word lists)")
    try:
        return WordBeamSearchDecoder.from_texts(
            tokens, texts, word_chars=word_chars, beam_width=beam_width, mode=mode, lm_weight=lm_weight,
            top_n=top_n, prune_log_prob=prune_log_prob, top_k=top_k, ignore_case=ignore_case,
        )
    except ValueError as e:
        raise DecoderConfigError(f"decoder=lexicon: {e}") from e


def closest(
    tokens: Sequence[str],
    train_texts: Sequence[str] | None = None,
    max_candidates: int | None = 256,
    top_n: int = 1,
    words_file: str | Sequence[str] | None = None,
) -> ClosestWordDecoder:
    """Single-word images: the whole training transcriptions (or `words_file` lines) are the candidates,
    so words with digits or punctuation ("42", "z.B.") stay possible."""
    texts = _texts(train_texts, words_file, "decoder.words_file", "word list", "closest")
    try:
        return ClosestWordDecoder(tokens, texts, top_n=top_n, max_candidates=max_candidates)
    except ValueError as e:
        raise DecoderConfigError(f"decoder=closest: {e}") from e


def _as_partial(spec: DictConfig | Mapping[str, Any] | Callable[..., Decoder]) -> Callable[..., Decoder]:
    if isinstance(spec, (DictConfig, Mapping)):
        cfg = spec if isinstance(spec, DictConfig) else OmegaConf.create(dict(spec))
        return instantiate(cfg, _partial_=True)
    return spec


def build_decoder(
    spec: DictConfig | Mapping[str, Any] | Callable[..., Decoder],
    tokens: Sequence[str],
    train_texts: Sequence[str] | None,
    **overrides: Any,
) -> Decoder:
    """`spec` is a `conf/decoder/*.yaml` node or the partial it instantiates to; `overrides` (e.g.
    `top_n`) win over its keys. Raises `DecoderConfigError` with the config key to set when it cannot."""
    make = _as_partial(spec)
    return make(tokens=list(tokens), train_texts=train_texts, **overrides)


def decoder_name(spec: DictConfig | Mapping[str, Any] | Callable[..., Any]) -> str:
    """The option name (`greedy`, `beam`, ...): the factory's name, which is also the yaml file's."""
    if isinstance(spec, (DictConfig, Mapping)):
        return str(spec["_target_"]).rsplit(".", 1)[-1]
    func = spec.func if isinstance(spec, functools.partial) else spec
    return getattr(func, "__name__", type(func).__name__)


def decoder_options(spec: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The configured keys without Hydra's `_target_`/`_partial_`, for metrics.json and printing."""
    d = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else dict(spec)
    return {k: v for k, v in d.items() if not str(k).startswith("_")}


def describe(spec: DictConfig | Mapping[str, Any]) -> str:
    """One line, e.g. `beam (beam_width=16, lm_order=4, lm_weight=0.5, ...)`."""
    opts = ", ".join(f"{k}={v}" for k, v in decoder_options(spec).items())
    return f"{decoder_name(spec)} ({opts})" if opts else decoder_name(spec)
