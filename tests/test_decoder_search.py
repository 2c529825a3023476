"""The decoder search: the grid, choices made on validation writers only, test decoded once per choice, and a cache
that a second run reads instead of decoding again."""

from __future__ import annotations

import json

import pytest

from htr_lit.cv import decoder_search
from htr_lit.cv.decoder_search import grid_of, setting_name
from tests.helpers import write_finished_fold, write_two_writer_words


def test_grid_is_the_product_of_the_lists() -> None:
    grid = grid_of(["lm_weight=0.3,0.5", "insertion_bonus=0,1,2"])
    assert len(grid) == 6 and grid[0] == {"lm_weight": 0.3, "insertion_bonus": 0}
    assert isinstance(grid[0]["insertion_bonus"], int) and isinstance(grid[0]["lm_weight"], float)
    assert [setting_name(s) for s in grid[:2]] == ["insertion_bonus=0,lm_weight=0.3", "insertion_bonus=1,lm_weight=0.3"]
    assert setting_name(None) == "greedy" and setting_name({}) == "default"


@pytest.mark.parametrize("bad", ["lm_weight", "lm_weight=", "=0.5", "lm_weight=a,b"])
def test_a_bad_grid_says_how_to_write_it(bad) -> None:
    with pytest.raises(SystemExit, match="KEY=V1,V2"):
        grid_of([bad])


def test_the_same_key_twice_is_refused() -> None:
    with pytest.raises(SystemExit, match="twice"):
        grid_of(["lm_weight=0.3", "lm_weight=0.5"])


@pytest.fixture
def cv_folder(tiny_checkpoint, tmp_path):
    write_two_writer_words(tmp_path)
    write_finished_fold(tmp_path / "cv", tiny_checkpoint("bilstm"), ["b"], ["a"])
    return tmp_path


def test_search_chooses_on_validation_and_scores_test_once_per_choice(cv_folder, one_thread, monkeypatch) -> None:
    args = ["--cv", str(cv_folder / "cv"), "--decoder", "beam", "--grid", "lm_weight=0,0.5", "--grid",
            "beam_width=1,4", "--baseline", "beam_width=2", "--csv", str(cv_folder / "labels.csv"),
            "--cache", str(cv_folder / "cache")]
    out = cv_folder / "search.json"
    assert decoder_search.main([*args, "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert len(record["grid"]) == 4 and record["words"] == {"val": {"0": 5}, "test": {"0": 5}}
    assert record["defaults"] == {"beam_width": 16, "lm_weight": 0.5}  # conf/decoder/beam.yaml: what default read
    val = {row["setting"]: row["folds"]["0"] for row in record["val"]}
    assert set(val) == {"greedy", *record["grid"]}
    best = min(v for name, v in val.items() if name != "greedy")
    nested = record["chosen"]["nested"]["0"]
    assert val[nested["setting"]] == best  # chosen on the validation writers
    assert nested["setting"] == setting_name({k: nested[k] for k in ("lm_weight", "beam_width")})
    assert record["chosen"]["pooled"] == nested  # one fold: both choices agree
    test = record["test"]
    assert set(test) == {"greedy", "baseline", "nested", "pooled"}
    assert test["nested"]["folds"]["0"] == test["pooled"]["folds"]["0"]
    assert test["greedy"]["settings"] == {"0": "greedy"} and test["baseline"]["settings"] == {"0": "beam_width=2"}
    assert 0.0 <= test["greedy"]["pooled_cer"] <= 1.0

    # greedy from the kept log-probabilities is what the Reader reads
    from htr_lit.inference.scoring import Reader, figures

    rows = [line.split(",") for line in (cv_folder / "labels.csv").read_text().splitlines()[1:]]
    b_rows = [r for r in rows if r[2] == "b"]
    reader = Reader(json.loads((cv_folder / "cv/fold_0/metrics.json").read_text())["best_ckpt"], threads=1)
    texts = reader.read([cv_folder / r[0] for r in b_rows])
    assert test["greedy"]["folds"]["0"] == pytest.approx(figures(texts, [r[1] for r in b_rows])["cer"])

    # a second run reads every decoding from the cache: decoding would fail now
    def refuse(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr("htr_lit.decoding.factory.build_decoder", refuse)
    monkeypatch.setattr("htr_lit.inference.batching.read_batches", refuse)
    again = cv_folder / "again.json"
    assert decoder_search.main([*args, "--out", str(again)]) == 0
    assert {k: v for k, v in json.loads(again.read_text()).items() if k != "command"} == {
        k: v for k, v in record.items() if k != "command"}


def test_search_without_a_finished_fold_says_so(tmp_path) -> None:
    (tmp_path / "cv").mkdir()
    with pytest.raises(SystemExit, match="no finished fold"):
        decoder_search.main(["--cv", str(tmp_path / "cv"), "--grid", "lm_weight=0.5"])
