"""Cleaned labels: rows an audit flagged are dropped or relabelled in train and val, never in test."""

from __future__ import annotations

import pytest

from htr_lit.data.formats import DatasetFormatError
from htr_lit.data.sources import LabelsCSVSource


def _write(path, header, rows):
    path.write_text("\n".join([header] + [",".join(r) for r in rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def labels(tmp_path):
    rows = [(f"images/w{w}/{i}.png", f"word{w}{i}", f"w{w}") for w in (1, 2, 3) for i in range(3)]
    return _write(tmp_path / "labels.csv", "file_name,text,writer_id", rows)


def _source(labels, **kwargs):
    return LabelsCSVSource(csv_path=str(labels), val_writers=["w2"], test_writers=["w3"], **kwargs)


def _texts(splits):
    return {name: sorted(s.text for s in samples) for name, samples in splits.items()}


def test_drop_rows_leaves_flagged_train_and_val_rows_out_but_keeps_test(labels, tmp_path):
    flagged = _write(tmp_path / "flagged.csv", "file_name,text,suggestion",
                     [("images/w1/0.png", "word10", "x"), ("images/w2/2.png", "word22", "y"),
                      ("images/w3/1.png", "word31", "z")])
    texts = _texts(_source(labels, drop_rows=str(flagged)).load())
    assert texts == {"train": ["word11", "word12"], "val": ["word20", "word21"],
                     "test": ["word30", "word31", "word32"]}


def test_relabel_rows_takes_the_suggestion_and_names_the_list(labels, tmp_path):
    flagged = _write(tmp_path / "flagged.csv", "file_name,suggestion",
                     [("images/w1/1.png", "Wörth"), ("images/w1/2.png", ""), ("images/w3/0.png", "never")])
    splits = _source(labels, relabel_rows=str(flagged)).load()
    assert _texts(splits)["train"] == ["Wörth", "word10", "word12"]  # an empty suggestion keeps the label
    assert _texts(splits)["test"] == ["word30", "word31", "word32"]
    relabelled = next(s for s in splits["train"] if s.text == "Wörth")
    assert "relabelled by flagged.csv" in relabelled.origin


def test_without_lists_the_splits_are_unchanged(labels):
    assert _texts(_source(labels).load())["train"] == ["word10", "word11", "word12"]


def test_a_row_list_without_file_name_or_listed_twice_is_refused(labels, tmp_path):
    bad = _write(tmp_path / "bad.csv", "name,suggestion", [("images/w1/0.png", "x")])
    with pytest.raises(ValueError, match="bad.csv: needs the column"):
        _source(labels, drop_rows=str(bad)).load()
    with pytest.raises(DatasetFormatError, match="missing.csv: row list not found"):
        _source(labels, drop_rows=str(tmp_path / "missing.csv")).load()
    both = _write(tmp_path / "both.csv", "file_name,suggestion", [("images/w1/0.png", "x")])
    with pytest.raises(ValueError, match="both to drop and to relabel"):
        _source(labels, drop_rows=str(both), relabel_rows=str(both)).load()
