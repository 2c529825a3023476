"""Paired tests over writer folds against hand-computed p-values, and the two-run comparison table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from htr_lit.cv import compare as compare_cv
from htr_lit.cv.paired import paired_summary, permutation_test, sign_test


def test_sign_test_matches_the_binomial_by_hand() -> None:
    assert sign_test([-1, -1, -1, -1, -1]) == pytest.approx(2 / 32)  # 5 of 5: 2 * 0.5^5
    assert sign_test([-1, -1, -1, -1, 1]) == pytest.approx(2 * 6 / 32)  # 4 of 5: 2 * (1 + 5) / 32
    assert sign_test([-1, 0, -1, 0]) == pytest.approx(2 / 4)  # ties dropped: 2 of 2
    assert sign_test([0, 0]) == 1.0 and sign_test([]) == 1.0
    assert sign_test([1, -1]) == 1.0  # capped


def test_permutation_test_counts_sign_patterns_by_hand() -> None:
    # diffs (1, 2, 3): the 8 sign patterns give |sums| 6, 4, 2, 0, 0, 2, 4, 6; two reach 6
    assert permutation_test([1, 2, 3]) == pytest.approx(2 / 8)
    # (-1, -1, -1, -1, -1): only the two all-same patterns reach |sum| 5
    assert permutation_test([-1] * 5) == pytest.approx(2 / 32)
    # (3, -1): |sums| 2, 4, 4, 2 -> |2| is reached by all four
    assert permutation_test([3, -1]) == 1.0
    assert permutation_test([]) == 1.0


def test_permutation_test_samples_beyond_the_exact_limit() -> None:
    diffs = [-0.01] * 20  # all 20 writers better: exact p = 2 / 2^20, sampled p is its floor 1 / (n + 1)
    assert permutation_test(diffs, samples=2000) == pytest.approx(1 / 2001)
    assert 0.3 < permutation_test([0.01, -0.01] * 10, samples=2000) <= 1.0


def test_paired_summary_counts_wins_and_refuses_unequal_lengths() -> None:
    s = paired_summary([0.10, 0.20, 0.30], [0.08, 0.20, 0.33])
    assert s["pairs"] == 3 and s["b_better"] == 1 and s["b_worse"] == 1 and s["ties"] == 1
    assert s["mean_diff"] == pytest.approx((-0.02 + 0.0 + 0.03) / 3)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_summary([0.1], [0.1, 0.2])


def _cv(folder: Path, cers: dict[int, float], writers: dict[int, list[str]]) -> Path:
    folds = [
        {"fold": i, "test_writers": writers[i], "test/cer": c, "writers": {w: {"cer": c} for w in writers[i]}}
        for i, c in cers.items()
    ]
    folder.mkdir(parents=True)
    (folder / "cv.json").write_text(json.dumps({"folds": folds}))
    return folder


def test_compare_pairs_common_folds_and_refuses_different_writers(tmp_path: Path, capsys) -> None:
    writers = {0: ["1", "2"], 1: ["3", "4"], 2: ["5", "6"]}
    a = _cv(tmp_path / "crnn", {0: 0.10, 1: 0.12, 2: 0.09}, writers)
    b = _cv(tmp_path / "dilated", {0: 0.08, 1: 0.11}, writers)  # fold 2 not finished: left out
    assert compare_cv.main([str(a), str(b), "--out", str(tmp_path / "cmp.md")]) == 0
    out = capsys.readouterr().out
    assert "paired over 2 writer folds" in out and "| 0 | 1, 2 | 10.00 | 8.00 | -2.00 |" in out
    assert "| folds | 2 | -1.50 |" in out and "| writers | 4 | -1.50 |" in out
    assert "| 2 / 0 / 0 | 0.500 | 0.500 |" in out  # folds: 2 of 2 better, p = 2 * 0.25; flips: 2 of 4
    assert (tmp_path / "cmp.md").read_text() in out
    many = {i: [f"w{i}"] for i in range(12)}  # 12 folds, B better in every one: p = 2 / 4096
    _cv(tmp_path / "a12", {i: 0.10 for i in range(12)}, many)
    _cv(tmp_path / "b12", {i: 0.09 for i in range(12)}, many)
    compare_cv.main([str(tmp_path / "a12"), str(tmp_path / "b12")])
    assert "| 12 / 0 / 0 | 4.9e-04 | 4.9e-04 |" in capsys.readouterr().out
    other = _cv(tmp_path / "other", {0: 0.1}, {0: ["9", "2"]})
    with pytest.raises(SystemExit, match="not the same folds"):
        compare_cv.main([str(a), str(other)])
    with pytest.raises(SystemExit, match="no cross-validation summary"):
        compare_cv.main([str(a), str(tmp_path / "missing")])


def test_compare_merges_the_tables_of_runs_over_some_folds(tmp_path: Path, capsys) -> None:
    """`cv --only` writes cv_folds_<i>.json: a folder holding only such tables is read as one run, and the
    full cv.json wins where both hold a fold."""
    writers = {0: ["1"], 3: ["2"], 4: ["3"]}

    def part(folder: Path, name: str, cers: dict[int, float]) -> None:
        folds = [{"fold": i, "test_writers": writers[i], "test/cer": c, "writers": {writers[i][0]: {"cer": c}}}
                 for i, c in cers.items()]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps({"folds": folds}))

    part(tmp_path / "a", "cv_folds_3.json", {3: 0.10})
    part(tmp_path / "a", "cv_folds_4.json", {4: 0.20})
    part(tmp_path / "b", "cv_folds_3_4.json", {3: 0.12, 4: 0.25})
    part(tmp_path / "b", "cv.json", {0: 0.30, 4: 0.21})  # the full table wins for fold 4
    part(tmp_path / "b", "cv_beam_folds_3.json", {3: 0.01})  # another decoder: not read
    assert [f["fold"] for f in compare_cv.load_cv(tmp_path / "b")["folds"]] == [0, 3, 4]
    assert compare_cv.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "| 3 | 2 | 10.00 | 12.00 | +2.00 |" in out and "| 4 | 3 | 20.00 | 21.00 | +1.00 |" in out
    assert "paired over 2 writer folds" in out


def test_std_of_one_paired_difference_is_left_blank() -> None:
    assert compare_cv.format_std_points({"pairs": 1, "std_diff": 0.0}) == ""
    assert compare_cv.format_std_points({"pairs": 3, "std_diff": 0.0119}) == "1.19"


def test_compare_on_the_validation_writers_reads_each_folds_val_cer(capsys) -> None:
    """`--on val` pairs the validation writers' CER per fold (the figure a choice is made on), read from the
    kept fold records' metrics.json where the table predates it; the test writers are not used."""
    import json
    from pathlib import Path

    kept = Path(__file__).resolve().parents[1] / "docs" / "cv"
    val = {name: [json.loads((kept / name / f"fold_{i}" / "metrics.json").read_text())["val/cer"] for i in range(5)]
           for name in ("crnn_dhsd", "dilated_dhsd")}
    assert compare_cv.main([str(kept / "crnn_dhsd"), str(kept / "dilated_dhsd"), "--on", "val"]) == 0
    out = capsys.readouterr().out
    diffs = [b - a for a, b in zip(val["crnn_dhsd"], val["dilated_dhsd"])]
    assert "on the validation writers: paired over 5 folds" in out and "test writers are not used" in out
    assert f"| folds | 5 | {100 * sum(diffs) / 5:+.2f} |" in out
    assert f"| 0 | 15, 30, 31 | {100 * val['crnn_dhsd'][0]:.2f} | {100 * val['dilated_dhsd'][0]:.2f} |" in out
