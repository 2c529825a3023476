"""Decoders on tiny hand-made CTC outputs, checked against brute force over all alignments."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
from collections import Counter

import numpy as np
import pytest
import torch

from htr_lit.decoding.beam import BeamSearchDecoder
from htr_lit.decoding.closest import ClosestWordDecoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.decoding.lexicon import WordBeamSearchDecoder, split_words, words_from_texts
from htr_lit.decoding.lm import CharNgramLM, WordBigramLM
from htr_lit.decoding.trie import Trie, TrieNode

AB = ["", "a", "b"]
ABC = ["", "a", "b", "c"]


def frames(tokens: list[str], rows: list[dict[str, float]], rest: float = 1e-6) -> torch.Tensor:
    """(1, T, C) log-probs from per-frame {token: prob} ("" = blank); unlisted tokens get `rest`."""
    out = torch.full((len(rows), len(tokens)), rest, dtype=torch.float64)
    for t, row in enumerate(rows):
        for tok, p in row.items():
            out[t, tokens.index(tok)] = p
    out /= out.sum(dim=1, keepdim=True)
    return out.log().unsqueeze(0)


def lm_next(lm: CharNgramLM, context: str) -> np.ndarray:
    """log P(. | the word prefix `context`) over the LM's vocab + <unk> + </w>."""
    return lm.log_probs_state(lm.advance(lm.initial_state(), context))


def lm_word(lm: CharNgramLM, text: str) -> float:
    """log P(text as a whole word), end symbol included: by the chain rule over lm_next."""
    return sum(float(lm_next(lm, text[:i])[lm.symbol_index(ch)]) for i, ch in enumerate(text)) + float(
        lm_next(lm, text)[lm.end_index]
    )


def path(tokens: list[str], labels: str, p: float = 0.98) -> torch.Tensor:
    """A peaky output that follows `labels` frame by frame ("-" = blank)."""
    return frames(tokens, [{"" if ch == "-" else ch: p} for ch in labels], rest=(1 - p) / (len(tokens) - 1))


def lengths(lp: torch.Tensor) -> torch.Tensor:
    return torch.full((lp.shape[0],), lp.shape[1])


def collapse(alignment: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], 0
    for c in alignment:
        if c != 0 and c != prev:
            out.append(c)
        prev = c
    return tuple(out)


def brute_force(lp: torch.Tensor, tokens: list[str]) -> dict[str, float]:
    """P(labelling) of every labelling: the sum over all C^T alignments that collapse to it."""
    T, C = lp.shape[1:]
    probs: dict[str, float] = {}
    for a in itertools.product(range(C), repeat=T):
        text = "".join(tokens[i] for i in collapse(a))
        probs[text] = probs.get(text, 0.0) + math.exp(sum(lp[0, t, c].item() for t, c in enumerate(a)))
    return probs


def exhaustive_decoder(tokens: list[str], **kw) -> BeamSearchDecoder:
    return BeamSearchDecoder(
        tokens, beam_width=10_000, top_n=10_000, prune_log_prob=-math.inf, top_k=100, **kw
    )


# ---------------------------------------------------------------- greedy


def test_greedy_merges_repeats_and_drops_blanks() -> None:
    lp = path(AB, "aa-abb-b")
    (hyp,) = GreedyDecoder(AB)(lp, lengths(lp))[0]
    assert hyp.text == "aabb"
    assert hyp.score == pytest.approx(8 * math.log(0.98))


# ---------------------------------------------------------------- prefix beam search


@pytest.mark.parametrize(("tokens", "T", "seed"), [(AB, 3, 0), (AB, 4, 1), (ABC, 3, 2), (ABC, 4, 3)])
def test_wide_beam_equals_brute_force(tokens: list[str], T: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    lp = torch.randn(1, T, len(tokens), generator=g, dtype=torch.float64).mul(2).log_softmax(-1)
    expected = brute_force(lp, tokens)
    hyps = exhaustive_decoder(tokens)(lp, lengths(lp))[0]
    assert {h.text for h in hyps} == set(expected)
    for h in hyps:
        assert math.exp(h.score) == pytest.approx(expected[h.text], rel=1e-9, abs=1e-15)
    assert hyps[0].text == max(expected, key=expected.get)


def textbook_prefix_beam(lp: torch.Tensor, tokens: list[str], beam_width: int) -> list[tuple[str, float]]:
    """Log-space prefix beam search straight from the textbook: every token at every frame."""
    T, C = lp.shape[1:]
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, -math.inf]}  # prefix -> [log p_b, log p_nb]
    total = lambda e: float(np.logaddexp(e[0], e[1]))  # noqa: E731
    for t in range(T):
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            e = nxt.setdefault(prefix, [-math.inf, -math.inf])
            e[0] = np.logaddexp(e[0], total((pb, pnb)) + lp[0, t, 0].item())
            if prefix:
                e[1] = np.logaddexp(e[1], pnb + lp[0, t, prefix[-1]].item())
            for c in range(1, C):
                e = nxt.setdefault((*prefix, c), [-math.inf, -math.inf])
                src = pb if prefix and prefix[-1] == c else total((pb, pnb))
                e[1] = np.logaddexp(e[1], src + lp[0, t, c].item())
        beams = dict(sorted(nxt.items(), key=lambda kv: -total(kv[1]))[:beam_width])
    ranked = sorted(beams.items(), key=lambda kv: -total(kv[1]))
    return [("".join(tokens[i] for i in p), total(e)) for p, e in ranked]


@pytest.mark.parametrize("seed", range(4))
def test_narrow_beam_equals_textbook_search(seed: int) -> None:
    # The early exits and in-place updates of the fast search must not change its result.
    g = torch.Generator().manual_seed(seed)
    lp = torch.randn(1, 10, 4, generator=g, dtype=torch.float64).mul(1.5).log_softmax(-1)
    dec = BeamSearchDecoder(ABC, beam_width=3, top_n=3, prune_log_prob=-math.inf, top_k=10)
    got = [(h.text, h.score) for h in dec(lp, lengths(lp))[0]]
    expected = textbook_prefix_beam(lp, ABC, 3)
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-9)


def test_beam_beats_greedy_on_the_classic_example() -> None:
    # Two frames, blank 0.6 / "a" 0.4: the best path is "" (0.36), but P("a") = 0.16 + 0.24 + 0.24 = 0.64.
    lp = frames(AB, [{"": 0.6, "a": 0.4}] * 2, rest=0.0)
    assert GreedyDecoder(AB)(lp, lengths(lp))[0][0].text == ""
    (hyp,) = BeamSearchDecoder(AB, beam_width=4)(lp, lengths(lp))[0]
    assert hyp.text == "a"
    assert hyp.score == pytest.approx(math.log(0.64))


def test_repeats_need_a_blank_between() -> None:
    dec = BeamSearchDecoder(AB, beam_width=8)
    assert dec(path(AB, "aa"), torch.tensor([2]))[0][0].text == "a"
    assert dec(path(AB, "a-a"), torch.tensor([3]))[0][0].text == "aa"
    assert dec(path(AB, "ab-b"), torch.tensor([4]))[0][0].text == "abb"


def test_lengths_cut_the_frames() -> None:
    lp = torch.cat([path(AB, "a-b-"), path(AB, "b-a-")])
    out = BeamSearchDecoder(AB)(lp, torch.tensor([4, 2]))
    assert [h[0].text for h in out] == ["ab", "b"]


def test_empty_inputs_give_one_hypothesis() -> None:
    lp = path(LETTERS, "c-a-t")
    decoders = [
        GreedyDecoder(LETTERS),
        BeamSearchDecoder(LETTERS, lm=CharNgramLM(2).fit(["cat"])),
        WordBeamSearchDecoder(LETTERS, WORDS),
        ClosestWordDecoder(LETTERS, WORDS),
    ]
    for dec in decoders:
        (hyps,) = dec(lp, torch.tensor([0]))
        assert len(hyps) == 1 and hyps[0].text in {"", *WORDS}


def test_top_n_gives_distinct_texts_best_first() -> None:
    lp = frames(ABC, [{"a": 0.5, "b": 0.3, "": 0.2}, {"": 0.5, "c": 0.4, "a": 0.1}, {"b": 0.6, "": 0.4}])
    hyps = BeamSearchDecoder(ABC, beam_width=16, top_n=5)(lp, lengths(lp))[0]
    assert len(hyps) == 5
    assert len({h.text for h in hyps}) == 5
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_lm_weight_zero_is_plain_search() -> None:
    lm = CharNgramLM(3).fit(["abba", "baab", "aaa"])
    g = torch.Generator().manual_seed(5)
    lp = torch.randn(3, 6, 3, generator=g).mul(2).log_softmax(-1)
    plain = BeamSearchDecoder(AB, beam_width=8, top_n=4)(lp, lengths(lp))
    zero = BeamSearchDecoder(AB, beam_width=8, top_n=4, lm=lm, lm_weight=0.0)(lp, lengths(lp))
    assert plain == zero


def test_lm_fusion_score_is_ctc_plus_weighted_lm_plus_bonus() -> None:
    lm = CharNgramLM(2).fit(["ab", "abb", "ba"])
    g = torch.Generator().manual_seed(7)
    lp = torch.randn(1, 3, 3, generator=g, dtype=torch.float64).log_softmax(-1)
    ctc = brute_force(lp, AB)
    hyps = exhaustive_decoder(AB, lm=lm, lm_weight=0.7, insertion_bonus=0.3)(lp, lengths(lp))[0]
    assert {h.text for h in hyps} == set(ctc)
    for h in hyps:
        assert h.score == pytest.approx(math.log(ctc[h.text]) + 0.7 * lm_word(lm, h.text) + 0.3 * len(h.text))


def test_lm_pushes_the_beam_toward_its_continuation() -> None:
    lm = CharNgramLM(3).fit(["abab", "ababab", "abababab", "babababa"])
    # "ab", an ambiguous frame slightly favouring a second "b", then "b": the alternating LM wants "abab".
    ambiguous = {"b": 0.55, "a": 0.45}
    lp = frames(AB, [{"a": 0.98}, {"": 0.98}, {"b": 0.98}, {"": 0.98}, ambiguous, {"": 0.98}, {"b": 0.98}])
    assert BeamSearchDecoder(AB, beam_width=8)(lp, lengths(lp))[0][0].text == "abbb"
    assert BeamSearchDecoder(AB, beam_width=8, lm=lm, lm_weight=1.0)(lp, lengths(lp))[0][0].text == "abab"


def test_pruned_frames_keep_the_beam_alive() -> None:
    # Frames where every character is pruned only cost a blank/stay update.
    lp = path(ABC, "--a---b---", p=1 - 1e-7)
    (hyp,) = BeamSearchDecoder(ABC, beam_width=4, prune_log_prob=-5.0)(lp, lengths(lp))[0]
    assert hyp.text == "ab"


# ---------------------------------------------------------------- character LM


def test_char_lm_distributions_sum_to_one() -> None:
    lm = CharNgramLM(4).fit(["hello", "help", "yellow", "he"], extra_chars="xyz")
    for ctx in ["", "h", "he", "hel", "hell", "qqq", "zz"]:
        assert math.fsum(math.exp(x) for x in lm_next(lm, ctx)) == pytest.approx(1.0, abs=1e-12)
    assert (lm.unk_index, lm.end_index) == (len(lm.vocab), len(lm.vocab) + 1) and "x" in lm.vocab
    he = lm_next(lm, "he")
    assert he[lm.symbol_index("l")] > he[lm.symbol_index("x")]  # seen beats unseen
    assert lm.symbol_index("Q") == lm.unk_index and he[lm.symbol_index("x")] == he[lm.unk_index]  # unseen: backoff only
    assert lm_next(lm, "hello")[lm.end_index] > lm_next(lm, "hell")[lm.end_index]
    assert lm_word(lm, "help") > lm_word(lm, "hlep")


def test_decoders_survive_deepcopy_and_pickle() -> None:
    lm = CharNgramLM(3).fit(["ab", "ba"])
    lm_next(lm, "a")  # fill the cache
    dec = BeamSearchDecoder(AB, lm=lm)
    lp = path(AB, "a-b")
    for clone in (copy.deepcopy(dec), pickle.loads(pickle.dumps(dec))):
        assert clone(lp, lengths(lp)) == dec(lp, lengths(lp))
        assert lm_next(clone.lm, "a").tolist() == lm_next(lm, "a").tolist()


def test_word_bigram_lm_prefers_seen_pairs() -> None:
    lm = WordBigramLM({"the": 2, "cat": 2, "a": 1, "cot": 1}, {("the", "cat"): 2, ("a", "cot"): 1})
    assert lm.log_prob("cat", "the") > lm.log_prob("cot", "the")
    assert lm.log_prob("cat") > lm.log_prob("dog")


# ---------------------------------------------------------------- lexicon


def test_words_from_texts_splits_runs_of_letters() -> None:
    assert words_from_texts(["Grüße, Welt!", "42 Welt"]) == Counter({"Grüße": 1, "Welt": 2})
    assert split_words("don't", word_chars="dont'") == ["don't"]


def find(trie: Trie, prefix: str) -> TrieNode | None:
    """The node of `prefix` by walking the children from the root (None: no word starts with it)."""
    node: TrieNode | None = trie.root
    for ch in prefix:
        node = node.children.get(ch) if node is not None else None
    return node


def test_trie() -> None:
    trie = Trie(["cat", "cot", "cat", "co"])
    assert trie.sorted_words == ["cat", "co", "cot"] and trie.counts == [2, 1, 1]
    assert find(trie, "c").best == "cat"  # most frequent completion
    assert find(trie, "cat").word == "cat" and find(trie, "ca").word is None


def test_lazy_trie_nodes_match_an_eager_walk() -> None:
    words = {"a": 1, "ab": 4, "abc": 2, "abd": 4, "b": 1, "ba": 3, "zz": 1, "äu": 2}
    trie = Trie(words)
    for prefix in ["", "a", "ab", "b", "z", "ä"]:
        node = find(trie, prefix)
        starting = {w: n for w, n in words.items() if w.startswith(prefix)}
        assert set(node.children) == {w[len(prefix)] for w in starting if len(w) > len(prefix)}
        assert node.word == (prefix if prefix in words else None)
        # most frequent completion, ties to the alphabetically first
        assert node.best == min(starting, key=lambda w: (-starting[w], w))
    assert find(trie, "abx") is None and find(trie, "c") is None
    assert find(trie, "abd").word == "abd" and find(trie, "abe") is None and trie.root.word is None
    assert trie.counts[find(trie, "ab").lo] == 4 and find(trie, "abd").children == {}


def test_word_beam_ignore_case_matches_any_casing() -> None:
    tokens = [*LETTERS, "C", "A", "T"]
    lp = path(tokens, "C-A-T", p=0.9)
    assert WordBeamSearchDecoder(tokens, ["cat", "dog"], ignore_case=True)(lp, lengths(lp))[0][0].text == "CAT"
    # "Cqt", with "a" the runner-up in the middle: the best dictionary spelling, the model's case kept
    lp = frames(tokens, [{"C": 0.9}, {"": 0.9}, {"q": 0.6, "a": 0.3}, {"": 0.9}, {"t": 0.9}])
    assert WordBeamSearchDecoder(tokens, ["cat", "dog"], ignore_case=True)(lp, lengths(lp))[0][0].text == "Cat"
    # Without ignore_case "CAT" is not a dictionary word: only "cat"/"dog" (or nothing) can come out.
    hyps = WordBeamSearchDecoder(tokens, ["cat", "dog"], top_n=3)(lp, lengths(lp))[0]
    assert all(h.text in {"cat", "dog", ""} for h in hyps)


LETTERS = ["", "a", "c", "d", "g", "o", "q", "t"]
MIXED = [*LETTERS, "1", "2", " ", ","]
WORDS = ["cat", "cot", "dog", "to"]


def test_word_beam_only_returns_dictionary_words() -> None:
    dec = WordBeamSearchDecoder(LETTERS, WORDS, beam_width=8, top_n=3)
    lp = path(LETTERS, "c-qq-t-", p=0.9)  # "cqt" is no word
    hyps = dec(lp, lengths(lp))[0]
    assert hyps[0].text in {"cat", "cot"}
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(16, 8, len(LETTERS), generator=g).mul(3).log_softmax(-1)
    for hyps in dec(lp, lengths(lp)):
        assert all(h.text in WORDS or h.text == "" for h in hyps)


def test_word_beam_keeps_digits_and_punctuation_between_words() -> None:
    dec = WordBeamSearchDecoder(MIXED, WORDS, beam_width=16)
    lp = path(MIXED, "c-q-t,- -1-2- -dd-o-g")
    assert dec(lp, lengths(lp))[0][0].text in {"cat, 12 dog", "cot, 12 dog"}


def test_word_beam_completes_a_cut_off_word() -> None:
    dec = WordBeamSearchDecoder(LETTERS, {"cat": 5, "cot": 1, "dog": 1})
    lp = path(LETTERS, "-c-a-")
    assert dec(lp, lengths(lp))[0][0].text == "cat"


def test_word_beam_ngrams_mode_uses_word_bigrams() -> None:
    texts = ["to cat", "to cat", "to cot", "cot", "cot", "cot"]
    lp = path(MIXED, "t-o- -c-", p=0.95)
    lp = torch.cat([lp, frames(MIXED, [{"o": 0.55, "a": 0.45}, {"": 0.9}, {"t": 0.9}])], dim=1)
    words = WordBeamSearchDecoder.from_texts(MIXED, texts, beam_width=16, mode="words")
    ngrams = WordBeamSearchDecoder.from_texts(MIXED, texts, beam_width=16, mode="ngrams", lm_weight=1.0)
    assert words(lp, lengths(lp))[0][0].text == "to cot"
    assert ngrams(lp, lengths(lp))[0][0].text == "to cat"


def test_closest_word_is_the_exact_ctc_argmax() -> None:
    # Two frames: [blank .2, a .7, b .1] and [blank .3, a .2, b .5]. By hand:
    # P(a) = aa + a- + -a = .14 + .21 + .04 = .39, P(ab) = .35, P(b) = .05 + .03 + .10 = .18,
    # P(ba) = .02, P(aa) = 0 (needs three frames). The greedy reading is "ab".
    lp = frames(AB, [{"": 0.2, "a": 0.7, "b": 0.1}, {"": 0.3, "a": 0.2, "b": 0.5}], rest=0.0)
    assert GreedyDecoder(AB)(lp, lengths(lp))[0][0].text == "ab"
    hyps = ClosestWordDecoder(AB, ["b", "ab", "a", "ba", "aa"], top_n=5)(lp, lengths(lp))[0]
    assert [h.text for h in hyps] == ["a", "ab", "b", "ba", "aa"]
    for h, p in zip(hyps, [0.39, 0.35, 0.18, 0.02]):
        assert h.score == pytest.approx(math.log(p), rel=1e-5)
    assert hyps[-1].score == -math.inf


def test_closest_word_candidate_cap_keeps_the_right_word() -> None:
    words = ["cat", "cot", "dog", "to", "act", "tac", "cad", "god", "good", "dot", "tot", "ago"]
    lp = path(LETTERS, "c-q-t", p=0.9)
    capped = ClosestWordDecoder(LETTERS, words, top_n=2, max_candidates=3)(lp, lengths(lp))[0]
    full = ClosestWordDecoder(LETTERS, words, top_n=2, max_candidates=None)(lp, lengths(lp))[0]
    assert capped == full
    assert {h.text for h in full} == {"cat", "cot"}
