"""Tests for writer-disjoint, seeded splits (synthetic samples; plus the real DHSD labels when present)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from htr_lit.data.formats import read_labels_csv
from htr_lit.data.sample import Sample
from htr_lit.data.splits import describe_split, split_by_writer, writers_of

DHSD_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dhsd" / "labels.csv"


def _samples(n_writers: int = 20, per_writer: int = 3) -> list[Sample]:
    """Interleaved samples of writers ``0..n_writers-1`` so that order preservation is visible."""
    return [
        Sample(
            path=Path(f"/img/{w}_{i}.png"), text=f"t{w}.{i}", writer_id=str(w), origin=f"labels.csv:{w}.{i}"
        )
        for i in range(per_writer)
        for w in range(n_writers)
    ]


def _writer_sets(splits: dict[str, list[Sample]]) -> dict[str, set[str]]:
    return {name: set(writers_of(samples)) for name, samples in splits.items()}


def _assert_writer_disjoint(splits: dict[str, list[Sample]]) -> None:
    ws = _writer_sets(splits)
    assert not (ws["train"] & ws["val"]) and not (ws["train"] & ws["test"]) and not (ws["val"] & ws["test"])


def test_split_is_writer_disjoint_complete_and_order_preserving() -> None:
    samples = _samples()
    splits = split_by_writer(samples, val_fraction=0.1, test_fraction=0.2, seed=0)
    _assert_writer_disjoint(splits)
    assert [len(ws) for ws in _writer_sets(splits).values()] == [14, 2, 4]
    assert sorted(s.origin for ss in splits.values() for s in ss) == sorted(s.origin for s in samples)
    for part in splits.values():
        assert part == [s for s in samples if s in set(part)]


def test_split_is_deterministic_and_seed_dependent() -> None:
    samples = _samples()
    assert split_by_writer(samples, seed=3) == split_by_writer(samples, seed=3)
    assert _writer_sets(split_by_writer(samples, seed=3)) != _writer_sets(split_by_writer(samples, seed=4))


def test_small_fractions_give_at_least_one_writer_and_zero_gives_none() -> None:
    ws = _writer_sets(split_by_writer(_samples(n_writers=3), val_fraction=0.01, test_fraction=0.01))
    assert [len(w) for w in ws.values()] == [1, 1, 1]
    ws = _writer_sets(split_by_writer(_samples(n_writers=5), val_fraction=0.0, test_fraction=0.2))
    assert [len(w) for w in ws.values()] == [4, 0, 1]


def test_explicit_writer_lists_take_precedence() -> None:
    samples = _samples()
    ws = _writer_sets(split_by_writer(samples, test_writers=["1", "2", "3"], val_fraction=0.1, seed=1))
    assert ws["test"] == {"1", "2", "3"} and len(ws["val"]) == 2 and not ws["val"] & ws["test"]
    ws = _writer_sets(split_by_writer(samples, val_writers=["7"], test_writers=["8"]))
    assert (ws["val"], ws["test"], len(ws["train"])) == ({"7"}, {"8"}, 18)
    ws = _writer_sets(split_by_writer(samples, test_writers=["5"], val_fraction=0.0))
    assert (ws["val"], ws["test"]) == (set(), {"5"})


def test_explicit_writer_errors() -> None:
    with pytest.raises(
        ValueError, match=r"unknown writer\(s\) \['nobody'\].*known writers include \['0', '1'"
    ):
        split_by_writer(_samples(), test_writers=["nobody"])
    with pytest.raises(ValueError, match="in both val_writers and test_writers"):
        split_by_writer(_samples(), val_writers=["1"], test_writers=["1"])


def test_mixed_writer_ids_name_the_first_sample_without_one() -> None:
    samples = _samples(n_writers=3) + [Sample(path=Path("/img/x.png"), text="x", origin="labels.csv:99")]
    with pytest.raises(ValueError, match=r"1 of 10 samples have no writer_id \(first: labels\.csv:99\)"):
        split_by_writer(samples)


def test_bad_fractions_and_no_training_writer() -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_writer(_samples(), val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="no writer left for training"):
        split_by_writer(_samples(n_writers=2), val_writers=["0"], test_fraction=0.5)


def test_no_writer_ids_fall_back_to_random_split(caplog: pytest.LogCaptureFixture) -> None:
    samples = [Sample(path=Path(f"/img/{i}.png"), text=str(i)) for i in range(50)]
    with caplog.at_level(logging.WARNING, logger="htr_lit.data.splits"):
        splits = split_by_writer(samples, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert "NOT writer-independent" in caplog.text
    assert [len(splits[k]) for k in ("train", "val", "test")] == [35, 5, 10]
    assert splits["train"] == [s for s in samples if s in set(splits["train"])]
    assert splits == split_by_writer(samples, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert splits != split_by_writer(samples, val_fraction=0.1, test_fraction=0.2, seed=1)
    with pytest.raises(ValueError, match="no sample has a writer_id"):
        split_by_writer(samples, test_writers=["1"])


def test_empty_input_and_describe_split() -> None:
    assert split_by_writer([]) == {"train": [], "val": [], "test": []}
    splits = split_by_writer(_samples(n_writers=10, per_writer=2), seed=0)
    assert (
        describe_split(splits)
        == "train 16 images / 8 writers, val 2 images / 1 writers, test 2 images / 1 writers"
    )
    assert describe_split({"train": [Sample(path=Path("/x.png"), text="x")]}) == "train 1 images"


@pytest.mark.skipif(not DHSD_CSV.is_file(), reason=f"{DHSD_CSV} not present")
def test_real_dhsd_labels_split() -> None:
    samples = read_labels_csv(DHSD_CSV)
    writers = writers_of(samples)
    assert (len(samples), len(writers)) == (4815, 30)
    splits = split_by_writer(samples, test_writers=writers[:5], seed=0)
    _assert_writer_disjoint(splits)
    assert _writer_sets(splits)["test"] == set(writers[:5])
    assert sum(len(s) for s in splits.values()) == 4815
