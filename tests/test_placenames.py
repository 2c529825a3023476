"""The place-name generator: seeded, within length and charset, DHSD-like shares, not copying DHSD."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from htr_lit.data.synth.placenames import (
    _MASCULINE,
    _NEUTER,
    ADJECTIVES,
    ALLOWED_CHARS,
    MAX_LEN,
    STREET_SUFFIXES,
    PlaceNameGenerator,
)

DHSD_LABELS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dhsd" / "labels.csv"


@pytest.fixture(scope="module")
def names() -> list[str]:
    return PlaceNameGenerator(seed=7).sample_many(3000)


def test_same_seed_same_names_other_seed_other_names():
    assert PlaceNameGenerator(seed=3).sample_many(200) == PlaceNameGenerator(seed=3).sample_many(200)
    assert PlaceNameGenerator(seed=3).sample_many(200) != PlaceNameGenerator(seed=4).sample_many(200)
    gen = PlaceNameGenerator(seed=0)
    a = [gen.sample(np.random.default_rng(11)) for _ in range(3)]
    assert a[0] == a[1] == a[2]  # sample() uses only the rng it is given


def test_lengths_and_charset(names):
    assert all(1 <= len(n) <= MAX_LEN <= 40 for n in names)
    assert all(set(n) <= ALLOWED_CHARS for n in names)
    assert all(n == n.strip() and "  " not in n for n in names)
    lengths = np.array([len(n) for n in names])
    assert 13 <= lengths.mean() <= 18  # DHSD: mean 15.5, median 16
    assert lengths.max() >= 28 and lengths.min() <= 6


def test_mix_of_spaces_hyphens_streets_and_umlauts(names):
    def share(pred) -> float:
        return float(np.mean([pred(n) for n in names]))

    assert 0.3 <= share(lambda n: " " in n) <= 0.6  # DHSD: 43%
    assert 0.08 <= share(lambda n: "-" in n) <= 0.3  # DHSD: 12%
    assert share(lambda n: "straße" in n.lower()) >= 0.35
    assert share(lambda n: any(c in "äöüÄÖÜß" for c in n)) >= 0.2
    assert len(set(names)) >= 0.8 * len(names)


def test_modes_can_be_restricted_and_are_checked():
    streets = PlaceNameGenerator(seed=1, modes={"street": 1.0}, word_lists={}).sample_many(300)
    assert (
        np.mean([n.lower().endswith(("straße", "weg", "str.", "platz")) or " " in n for n in streets]) > 0.9
    )
    with pytest.raises(ValueError):
        PlaceNameGenerator(seed=1, modes={"poem": 1.0})


def test_adjectives_agree_with_the_street_word():
    """Alte Gasse, Alter Weg, Altes Ufer: the ending follows the gender of the street word."""
    gen = PlaceNameGenerator(seed=2, modes={"street": 1.0}, word_lists={}, match_length=False)
    rng = np.random.default_rng(0)
    pattern = re.compile(
        rf"({'|'.join(ADJECTIVES)})(e|er|es) [A-ZÄÖÜ][a-zäöüß]*?({'|'.join(map(re.escape, STREET_SUFFIXES))})"
    )
    seen = {"e": 0, "er": 0, "es": 0}
    for name in (gen.street(rng) for _ in range(4000)):
        match = pattern.fullmatch(name)
        if match is None:
            continue
        ending, suffix = match.group(2), match.group(3)
        expected = "er" if suffix in _MASCULINE else "es" if suffix in _NEUTER else "e"
        assert ending == expected, name
        seen[ending] += 1
    assert seen["e"] > 20 and seen["er"] > 5


@pytest.mark.skipif(not DHSD_LABELS.is_file(), reason="DHSD labels (../shared/data/dhsd) not present")
def test_dhsd_overlap_is_small(names):
    """Only public-list town names and common street names may coincide with DHSD labels."""
    with open(DHSD_LABELS, encoding="utf-8", newline="") as handle:
        labels = {row["text"] for row in csv.DictReader(handle)}
    overlap = float(np.mean([n in labels for n in names]))
    print(f"share of generated names that are DHSD labels: {overlap:.3%}")
    assert overlap < 0.05
