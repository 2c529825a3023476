"""The beam decoder's big LM corpus (generated place names + word lists), its cache, and checkpoints
without training texts. Small corpora (a few thousand names, hand-written word lists) keep it fast."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from htr_lit.data.synth.placenames import ALLOWED_CHARS
from htr_lit.decoding import lm_corpus
from htr_lit.decoding.factory import DecoderConfigError, build_decoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.decoding.lm import CharNgramLM, _count_ngrams, _count_ngrams_loop
from htr_lit.decoding.lm_cache import cache_key, cached_lm
from htr_lit.decoding.lm_corpus import names_corpus
from tests.helpers import compose_cfg

TOKENS = ["", *sorted(ALLOWED_CHARS)]  # a DHSD-like charset: letters, äöüß, space, hyphen, full stop, digits
CHARSET = set(TOKENS[1:])


def word_list(tmp_path: Path, *words: str) -> str:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return str(path)


def beam_cfg(tmp_path: Path, *overrides: str):
    """decoder=beam_names as eval composes it, shrunk: 2,000 names, no word list, cache under tmp_path."""
    return compose_cfg("eval", ["decoder=beam_names", "decoder.lm_num_names=2000", "decoder.lm_word_lists=[]",
                                f"decoder.lm_cache_dir={tmp_path / 'cache'}", *overrides]).decoder


def p_next(lm: CharNgramLM, context: str, continuation: str) -> float:
    """P(continuation | the word prefix `context`), by the chain rule."""
    logp, state = 0.0, lm.advance(lm.initial_state(), context)
    for ch in continuation:
        logp += float(lm.log_probs_state(state)[lm.symbol_index(ch)])
        state = lm.advance(state, ch)
    return math.exp(logp)


# ---------------------------------------------------------------- counting and corpus


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_vectorised_counts_equal_the_loop(order: int) -> None:
    r = random.Random(order)
    texts = ["".join(r.choice("abß -€") for _ in range(r.randint(0, 8))) for _ in range(400)] + [""]
    assert _count_ngrams(texts, order) == _count_ngrams_loop(texts, order)
    assert _count_ngrams(texts, order, chunk_chars=50) == _count_ngrams_loop(texts, order)  # summed chunks
    assert _count_ngrams([], order) == {}


def test_names_corpus_is_deterministic_and_in_the_charset(tmp_path) -> None:
    words = word_list(tmp_path, "Haus", "café", "Straße", "naïve")
    a = names_corpus(CHARSET - {"Q"}, 300, seed=1, word_lists=[words])
    assert a == names_corpus(CHARSET - {"Q"}, 300, seed=1, word_lists=[words])
    assert a != names_corpus(CHARSET - {"Q"}, 300, seed=2, word_lists=[words])
    assert a[-2:] == ["Haus", "Straße"]  # the words follow the names; those with é / ï are dropped
    assert 250 < len(a) - 2 <= 300 and all(set(t) <= CHARSET - {"Q"} for t in a)
    assert names_corpus(CHARSET, 0, seed=1, word_lists=[]) == []


def test_names_lm_expects_strasse_after_stra(tmp_path) -> None:
    words = word_list(tmp_path, "Strand", "Strafe", "Strahl", "Straße", "Haus", "Stein")
    dec = build_decoder(beam_cfg(tmp_path, f"decoder.lm_word_lists=[{words}]"), TOKENS, train_texts=None)
    without_names = CharNgramLM(4).fit(lm_corpus.in_charset(["Strand", "Strafe", "Strahl", "Straße", "Haus",
                                                             "Stein"], CHARSET), extra_chars=CHARSET)
    assert p_next(dec.lm, "Stra", "ße") > 0.5
    assert p_next(dec.lm, "Stra", "ße") > 2 * p_next(without_names, "Stra", "ße")
    assert p_next(dec.lm, "Linden", "straße") > p_next(without_names, "Linden", "straße")


# ---------------------------------------------------------------- cache


def test_names_lm_is_cached_by_its_settings(tmp_path, monkeypatch) -> None:
    cfg = beam_cfg(tmp_path)
    first = build_decoder(cfg, TOKENS, train_texts=None).lm
    assert len(list((tmp_path / "cache").glob("charlm-*.pkl"))) == 1

    def no_corpus(*args, **kwargs):
        raise AssertionError("the cached LM should have been loaded")

    monkeypatch.setattr("htr_lit.decoding.factory.names_corpus", no_corpus)
    again = build_decoder(cfg, TOKENS, train_texts=None).lm
    assert again.counts == first.counts and again.vocab == first.vocab
    np.testing.assert_array_equal(again.log_probs_state(again.initial_state()),
                                  first.log_probs_state(first.initial_state()))
    with pytest.raises(AssertionError, match="cached"):  # another seed is another LM
        build_decoder(beam_cfg(tmp_path, "decoder.lm_seed=1"), TOKENS, train_texts=None)


def test_broken_cache_file_is_rebuilt(tmp_path) -> None:
    settings = {"order": 2}
    path = tmp_path / f"charlm-{cache_key(settings)}.pkl"
    path.write_bytes(b"not a pickle")
    lm = cached_lm(settings, lambda: CharNgramLM(2).fit(["ab"]), tmp_path)
    assert lm.counts == CharNgramLM(2).fit(["ab"]).counts
    assert cached_lm(settings, lambda: CharNgramLM(2).fit(["zz"]), tmp_path).counts == lm.counts  # now cached


# ---------------------------------------------------------------- decoding and configuration


def frames_for(text: str, ambiguous: dict[str, float]) -> torch.Tensor:
    """(1, T, C) log-probs spelling `text` ("?" = a frame with the `ambiguous` {token: prob}), blanks between."""
    rows = []
    for ch in text:
        rows += [ambiguous if ch == "?" else {ch: 0.9}, {"": 0.9}]
    out = torch.full((len(rows), len(TOKENS)), 1e-4, dtype=torch.float64)
    for t, row in enumerate(rows):
        for tok, p in row.items():
            out[t, TOKENS.index(tok)] = p
    return (out / out.sum(dim=1, keepdim=True)).log().unsqueeze(0)


def test_beam_names_reads_a_street_name_greedy_gets_wrong(tmp_path) -> None:
    lp = frames_for("Lindenstra?e", {"b": 0.5, "ß": 0.4})
    lengths = torch.tensor([lp.shape[1]])
    assert GreedyDecoder(TOKENS)(lp, lengths)[0][0].text == "Lindenstrabe"
    dec = build_decoder(beam_cfg(tmp_path), TOKENS, train_texts=[])  # a slim checkpoint: no training texts
    assert dec(lp, lengths)[0][0].text == "Lindenstraße"


def test_empty_train_texts_errors_name_the_option_to_use(tmp_path) -> None:
    beam = compose_cfg("eval", ["decoder=beam"]).decoder
    with pytest.raises(DecoderConfigError, match=r"empty 'train_texts'.*decoder=beam_names.*decoder\.lm_text"):
        build_decoder(beam, TOKENS, train_texts=[])
    with pytest.raises(DecoderConfigError, match=r"older htr-lit.*decoder=beam_names"):
        build_decoder(beam, TOKENS, train_texts=None)
    with pytest.raises(DecoderConfigError, match=r"decoder=lexicon_wordlists.*decoder\.words_file"):
        build_decoder(compose_cfg("eval", ["decoder=lexicon"]).decoder, TOKENS, train_texts=[])
    with pytest.raises(DecoderConfigError, match=r"decoder=beam_names"):
        build_decoder(beam_cfg(tmp_path, "decoder.lm_corpus=names+train_texts"), TOKENS, train_texts=[])
    with pytest.raises(DecoderConfigError, match=r"decoder\.lm_corpus=words: choose one of train_texts \| names"):
        build_decoder(beam_cfg(tmp_path, "decoder.lm_corpus=words"), TOKENS, train_texts=["a"])
    assert build_decoder(beam, TOKENS, train_texts=[], lm_weight=0.0).lm is None  # no LM, no texts needed


def test_names_plus_train_texts_adds_the_training_texts(tmp_path) -> None:
    texts = ["Zyxwstraße"] * 50
    both = build_decoder(beam_cfg(tmp_path, "decoder.lm_corpus=names+train_texts"), TOKENS, texts).lm
    names = build_decoder(beam_cfg(tmp_path), TOKENS, texts).lm  # lm_corpus=names ignores them
    assert p_next(both, "Zyx", "w") > 0.5 > p_next(names, "Zyx", "w")


def test_missing_word_list_names_the_key(tmp_path) -> None:
    with pytest.raises(DecoderConfigError, match=r"decoder\.lm_word_lists"):
        build_decoder(beam_cfg(tmp_path, f"decoder.lm_word_lists=[{tmp_path / 'nope.txt'}]"), TOKENS, None)
