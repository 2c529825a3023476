"""Best-path decoding against hand-computed answers."""

from __future__ import annotations

import math

import torch

from htr_lit.charset import Charset
from htr_lit.decoding.greedy import GreedyDecoder, best_path


def one_hot_log_probs(paths: list[list[int]], num_classes: int = 4) -> torch.Tensor:
    T = max(len(p) for p in paths)
    probs = torch.full((len(paths), T, num_classes), 0.01)
    for b, path in enumerate(paths):
        for t, c in enumerate(path):
            probs[b, t, c] = 1.0
    return (probs / probs.sum(-1, keepdim=True)).log()


def test_best_path_merges_repeats_and_drops_blanks():
    # blank=0; "a a _ a b b _" -> a a b ; "_ _ c" -> c
    lp = one_hot_log_probs([[1, 1, 0, 1, 2, 2, 0], [0, 0, 3, 0, 0, 0, 0]])
    assert best_path(lp, torch.tensor([7, 3])) == [[1, 1, 2], [3]]


def test_best_path_respects_lengths():
    lp = one_hot_log_probs([[1, 2, 3, 3]])
    assert best_path(lp, torch.tensor([2])) == [[1, 2]]
    assert best_path(lp, torch.tensor([0])) == [[]]


def test_greedy_decoder_text_and_score():
    cs = Charset(list("abc"))
    probs = torch.tensor([[[0.1, 0.7, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]]])
    hyps = GreedyDecoder(cs.tokens)(probs.log(), torch.tensor([3]))
    assert hyps[0][0].text == "ac"
    assert math.isclose(hyps[0][0].score, math.log(0.7 * 0.6 * 0.7), rel_tol=1e-5)


def test_charset_encode_decode_and_unknown():
    cs = Charset.from_texts(["Straße", "über"])
    assert cs.tokens[0] == "" and cs.num_classes == len(cs) + 1
    assert "".join(cs.tokens[i] for i in cs.encode("Straße")) == "Straße"
    assert cs.unknown("Öl") == {"Ö", "l"}
    assert cs.encode("xyz") == []
