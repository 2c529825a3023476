"""Test-time width stretch: the factors a user can give, the stretch itself, and the fusion against CTC
probabilities computed by hand (predict and eval with `tta`: tests/test_predict.py, tests/test_decoder_cli.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htr_lit.decoding.base import Hypothesis
from htr_lit.errors import ConfigError
from htr_lit.inference.tta import DEFAULT_FACTORS, StretchFusion, stretch, tta_factors

TOKENS = ["", "a", "b"]  # blank, a, b


def log_probs(*frames: tuple[float, float, float]) -> torch.Tensor:
    """(T, 3) log-probabilities from per-frame probabilities of (blank, a, b)."""
    return torch.tensor(frames, dtype=torch.float32).log()


@pytest.mark.parametrize(
    ("spec", "factors"),
    [(None, None), (False, None), (True, DEFAULT_FACTORS), ("0.9,1,1.1", (0.9, 1.0, 1.1)),
     ([1.2, 0.8, 1.2], (1.2, 0.8)), ([1], (1.0,))],
)
def test_factors_from_the_tta_key(spec, factors):
    assert tta_factors(spec) == factors


@pytest.mark.parametrize("spec", ["abc", [], [0.0, 1.0], [-1], [5], "1,,2"])
def test_bad_factors_are_a_clear_error(spec):
    with pytest.raises(ConfigError, match="tta="):
        tta_factors(spec)


def test_stretch_changes_only_the_width_and_keeps_the_minimum():
    image = np.full((64, 100), 255, dtype=np.uint8)
    image[20:40, 10:90] = 0
    assert stretch(image, 1.0) is image
    assert stretch(image, 1.2).shape == (64, 120) and stretch(image, 0.8).shape == (64, 80)
    assert stretch(image, 0.1, min_width=16).shape == (64, 16)
    wide = stretch(image, 2.0)
    assert wide[30, 22:178].max() == 0 and wide[5].min() == 255  # the ink band stretched, the paper stays paper


def test_fusion_picks_the_text_likeliest_over_all_stretches_by_hand():
    # Two frames each. P(text) under CTC with independent frames:
    #   P("a") = a1 a2 + a1 -2 + -1 a2,   P("b") likewise,   P("ab") = a1 b2,   P("") = -1 -2.
    v1 = log_probs((0.1, 0.5, 0.4), (0.1, 0.5, 0.4))  # best path "a"
    v2 = log_probs((0.1, 0.2, 0.7), (0.5, 0.2, 0.3))  # best path "b"
    p = {
        "a": (0.5 * 0.5 + 0.5 * 0.1 + 0.1 * 0.5, 0.2 * 0.2 + 0.2 * 0.5 + 0.1 * 0.2),
        "b": (0.4 * 0.4 + 0.4 * 0.1 + 0.1 * 0.4, 0.7 * 0.3 + 0.7 * 0.5 + 0.1 * 0.3),
    }
    expected = {t: (math.log(p1) + math.log(p2)) / 2 for t, (p1, p2) in p.items()}
    fused = StretchFusion([1.0, 1.2], TOKENS).fuse([[Hypothesis("a", -1.0)], [Hypothesis("b", -1.0)]], [v1, v2])
    assert [h.text for h in fused] == ["b", "a"]  # b: 0.24 x 0.59 beats a: 0.35 x 0.16
    for h in fused:
        assert h.score == pytest.approx(expected[h.text], abs=1e-5)


def test_a_stretch_too_short_for_a_candidate_is_left_out_for_all_of_them():
    one_frame = log_probs((0.2, 0.7, 0.1))  # cannot emit "ab"
    two_frames = log_probs((0.1, 0.8, 0.1), (0.1, 0.1, 0.8))
    fused = StretchFusion([0.8, 1.0], TOKENS).fuse(
        [[Hypothesis("a", 0.0)], [Hypothesis("ab", 0.0)]], [one_frame, two_frames]
    )
    assert [h.text for h in fused] == ["ab", "a"]  # scored on the two-frame reading alone
    assert fused[0].score == pytest.approx(math.log(0.8 * 0.8), abs=1e-5)
    # no stretch can emit every candidate: the first reading stands as it was
    first = [Hypothesis("ab", -0.5)]
    assert StretchFusion([0.8], TOKENS).fuse([first], [one_frame]) == first


def test_a_candidate_outside_the_charset_is_not_scored():
    lp = log_probs((0.1, 0.8, 0.1), (0.8, 0.1, 0.1))
    fused = StretchFusion([1.0, 1.1], TOKENS).fuse([[Hypothesis("x", 0.0)], [Hypothesis("a", 0.0)]], [lp, lp])
    assert [h.text for h in fused] == ["a"]
    only_unknown = [Hypothesis("x", -0.3)]
    assert StretchFusion([1.0], TOKENS).fuse([only_unknown], [lp]) == only_unknown
