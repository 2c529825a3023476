"""The cleaned-labels report: two CV folders of the same folds scored on the same test rows, split by an audit's
flags."""

from __future__ import annotations

import json

import pytest

from htr_lit.cv import cleaned_report
from tests.helpers import WORDS, write_word_png


def _fold(folder, ckpt, test_writers, cleaning=None):
    fold = folder / "fold_0"
    fold.mkdir(parents=True)
    (fold / "metrics.json").write_text(json.dumps({"status": "ok", "best_ckpt": str(ckpt), "cv": {
        "fold": 0, "folds": 2, "seed": 0, "test_writers": test_writers, "val_writers": []}}))
    if cleaning:
        (fold / "cv_job.json").write_text(json.dumps({"command": ["-m", "htr_lit.train", cleaning, "resume=true"]}))


@pytest.fixture
def labels(tmp_path):
    lines = ["file_name,text,writer_id"]
    for i, text in enumerate(WORDS):
        write_word_png(tmp_path / "img" / f"{i}.png", text, height=64)
        lines.append(f"img/{i}.png,{text},{'a' if i % 2 else 'b'}")
    lines.append("img/0.png,wrongword,b")  # a wrong label: the image shows WORDS[0]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "labels.csv"


def test_report_splits_the_test_rows_by_the_flags_and_pools_the_folds(tiny_checkpoint, labels, tmp_path, one_thread):
    ckpt = tiny_checkpoint()
    _fold(tmp_path / "base", ckpt, ["a", "b"])
    _fold(tmp_path / "clean", ckpt, ["a", "b"], "data.source.drop_rows=flagged.csv")
    (tmp_path / "flagged.csv").write_text("file_name,text\nimg/0.png,wrongword\n", encoding="utf-8")
    out = tmp_path / "report.json"
    assert cleaned_report.main(["--cv", str(tmp_path / "base"), "--cleaned", str(tmp_path / "clean"), "--flagged",
                                str(tmp_path / "flagged.csv"), "--csv", str(labels), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    fold = record["folds"][0]
    assert fold["cleaning"] == ["data.source.drop_rows=flagged.csv"]
    base = fold["base"]
    # img/0.png is listed twice in the CSV (its right label and the wrong one): both rows are flagged
    assert (base["all"]["rows"], base["flagged"]["rows"], base["not_flagged"]["rows"]) == (len(WORDS) + 1, 2,
                                                                                          len(WORDS) - 1)
    assert base["flagged"]["chars"] == len(WORDS[0]) + len("wrongword")
    weighted = sum(base[p]["cer"] * base[p]["chars"] for p in ("not_flagged", "flagged")) / base["all"]["chars"]
    assert weighted == pytest.approx(base["all"]["cer"])
    assert base["flagged"]["cer"] > base["not_flagged"]["cer"]  # the wrong label costs the flagged rows
    assert fold["cleaned"] == base and record["pooled"]["base"]["all"]["cer"] == pytest.approx(base["all"]["cer"])
    assert set(fold["per_writer"]["base"]) == {"a", "b"}
    assert record["writers"] == {"better": 0, "worse": 0, "same": 2}  # one checkpoint twice: every writer the same


def test_writer_changes_count_each_test_writer_once() -> None:
    folds = [{"per_writer": {"base": {"a": 0.1, "b": 0.2}, "cleaned": {"a": 0.05, "b": 0.2}}},
             {"per_writer": {"base": {"c": 0.1}, "cleaned": {"c": 0.3}}}]
    assert cleaned_report.writer_changes(folds) == {"better": 1, "worse": 1, "same": 1}


def test_report_refuses_folds_that_test_other_writers(tiny_checkpoint, labels, tmp_path) -> None:
    _fold(tmp_path / "base", tiny_checkpoint(), ["a"])
    _fold(tmp_path / "clean", tiny_checkpoint(), ["b"])
    (tmp_path / "flagged.csv").write_text("file_name\nimg/0.png\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="other writers"):
        cleaned_report.main(["--cv", str(tmp_path / "base"), "--cleaned", str(tmp_path / "clean"), "--flagged",
                             str(tmp_path / "flagged.csv"), "--csv", str(labels), "--out", str(tmp_path / "r.json")])


def test_cleaned_folds_may_live_in_several_folders_but_not_twice(tiny_checkpoint, labels, tmp_path) -> None:
    ckpt = tiny_checkpoint()
    _fold(tmp_path / "base", ckpt, ["a", "b"])
    _fold(tmp_path / "clean_a", ckpt, ["a", "b"], "data.source.drop_rows=flagged.csv")
    _fold(tmp_path / "clean_b", ckpt, ["a", "b"])
    (tmp_path / "flagged.csv").write_text("file_name\nimg/0.png\n", encoding="utf-8")
    args = ["--cv", str(tmp_path / "base"), "--cleaned", str(tmp_path / "clean_a"), "--cleaned",
            str(tmp_path / "clean_b"), "--flagged", str(tmp_path / "flagged.csv"), "--csv", str(labels), "--out",
            str(tmp_path / "r.json")]
    with pytest.raises(SystemExit, match="fold 0 is finished in both"):
        cleaned_report.main(args)
    (tmp_path / "clean_b" / "fold_0" / "metrics.json").unlink()  # fold 0 only in clean_a: fine
    assert cleaned_report.main(args) == 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["folds"][0]["cleaned_cv"].endswith("clean_a") and len(record["cleaned_cv"]) == 2
