"""The Tesseract baseline on writer folds, run against a fake `tesseract` (a shell script first on PATH that prints
each image file's content as its reading): no real tesseract, no DHSD needed."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

from htr_lit.cv.compare import compare, load_cv
from htr_lit.cv.folds import writer_folds
from htr_lit.cv.tesseract_baseline import main

FAKE = r"""#!/bin/sh
case "$1" in
  --version) echo "tesseract 5.0.0-fake"; echo " leptonica-1"; exit 0;;
  --list-langs) echo 'List of available languages in "/fake" (2):'; for l in $FAKE_TESS_LANGS; do echo "$l"; done
                exit 0;;
esac
case "$1" in *.txt) images=$(cat "$1");; *) images="$1";; esac
first=1
for img in $images; do
  [ -f "$img" ] || { echo "Image file $img cannot be read!" >&2; exit 1; }
  [ $first = 1 ] || printf '\f'
  first=0
  echo "$img" >> "$FAKE_TESS_LOG"
  cat "$img"
done
"""

# writer -> [(label, what the fake engine reads)]; every image's file holds its reading
DATA = {
    "a": [("Haus", "Haus\n"), ("Baum", "Baun\n")],  # 1 edit in 8 characters, 1 word of 2 wrong
    "b": [("Bad Kösen", "  Bad   Kösen \n"), ("Gera", "gera\n")],  # whitespace collapsed; case is an error
    "c": [("Jena", "\n"), ("Suhl", "Suhl\n")],  # nothing read: 4 deletions in 8 characters
    "d": [("Erfurt", "Erfurt\n"), ("Zeitz", "Zeitz\n")],
    "e": [("Apolda", "Apo1da\n"), ("Gotha", "Gotha\n")],  # 1 edit in 11
    "f": [("Sonneberg", "Sonneberg\n"), ("Weimar", "Weimar\n")],
}


@pytest.fixture
def fake_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake engine first on PATH; returns its log (one line per image it read)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "tesseract"
    exe.write_text(FAKE)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "tesseract.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_TESS_LOG", str(log))
    monkeypatch.setenv("FAKE_TESS_LANGS", "deu eng osd")
    return log


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    """A labels CSV of DATA's six writers under tmp_path/data, each image file holding the fake's reading."""
    root = tmp_path / "data"
    root.mkdir()
    with (root / "labels.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["file_name", "text", "writer_id"])
        for writer, items in DATA.items():
            for i, (label, reading) in enumerate(items):
                image = root / "images" / writer / f"{i}.png"
                image.parent.mkdir(parents=True, exist_ok=True)
                image.write_text(reading, encoding="utf-8")
                out.writerow([f"images/{writer}/{i}.png", label, writer])
    return root / "labels.csv"


def run(labels: Path, out: Path, *extra: str) -> dict:
    assert main(["--csv", str(labels), "--folds", "3", "--val-writers", "1", "--out", str(out), *extra]) == 0
    return json.loads((out / "cv.json").read_text(encoding="utf-8"))


def read_count(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.is_file() else 0


def test_folds_are_the_cross_validation_folds(fake_tesseract: Path, labels: Path, tmp_path: Path) -> None:
    record = run(labels, tmp_path / "out")
    expected = writer_folds(list(DATA), k=3, num_val=1, seed=0)
    assert [(f["fold"], f["test_writers"], f["val_writers"]) for f in record["folds"]] == [
        (f.index, list(f.test_writers), list(f.val_writers)) for f in expected
    ]
    assert sorted(w for f in record["folds"] for w in f["writers"]) == sorted(DATA)
    assert record["engine"] == {"version": "tesseract 5.0.0-fake", "lang": "deu", "psm": 7}
    assert read_count(fake_tesseract) == 12  # every image read once
    assert str(tmp_path) not in (tmp_path / "out" / "cv.json").read_text()  # paths relative to the data root
    readings = (tmp_path / "out" / "readings_psm7_deu.jsonl").read_text().splitlines()
    assert json.loads(readings[1])["image"].startswith("images/")


def test_cer_per_writer_is_the_hand_computed_one(fake_tesseract: Path, labels: Path, tmp_path: Path) -> None:
    record = run(labels, tmp_path / "out")
    writers = {w: s for f in record["folds"] for w, s in f["writers"].items()}
    assert writers["a"]["cer"] == pytest.approx(1 / 8)
    assert writers["a"]["wer"] == pytest.approx(1 / 2)
    assert writers["a"]["word_acc"] == pytest.approx(1 / 2)
    assert writers["b"]["cer"] == pytest.approx(1 / 13)  # "Bad Kösen" read right after collapsing; g != G
    assert writers["c"]["cer"] == pytest.approx(4 / 8)
    assert writers["d"]["cer"] == 0 and writers["d"]["word_acc"] == 1
    assert writers["e"]["cer"] == pytest.approx(1 / 11)
    fold = next(f for f in record["folds"] if "a" in f["test_writers"])
    chars = {w: sum(len(label) for label, _ in DATA[w]) for w in fold["test_writers"]}
    errors = sum(writers[w]["cer"] * chars[w] for w in chars)
    assert fold["test/cer"] == pytest.approx(errors / sum(chars.values()))  # errors summed over the fold's images
    val = fold["val_writers"][0]
    assert fold["val/cer"] == pytest.approx(writers[val]["cer"])  # one validation writer: its CER


def test_rerun_reuses_cached_readings(fake_tesseract: Path, labels: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run(labels, out)
    assert read_count(fake_tesseract) == 12
    cache = out / "readings_psm7_deu.jsonl"
    lines = cache.read_text(encoding="utf-8").splitlines()
    cache.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")  # as if killed before the last 3 readings
    second = run(labels, out)
    assert read_count(fake_tesseract) == 12 + 3  # only the missing ones read again
    assert second["folds"] == first["folds"]
    run(labels, out)
    assert read_count(fake_tesseract) == 15  # nothing left to read


def test_unreadable_image_reads_empty_and_the_rest_still_counts(
    fake_tesseract: Path, labels: Path, tmp_path: Path
) -> None:
    (labels.parent / "images" / "f" / "0.png").unlink()  # the fake stops its whole list on it, as tesseract does
    record = run(labels, tmp_path / "out")
    writers = {w: s for f in record["folds"] for w, s in f["writers"].items()}
    assert writers["f"]["cer"] == pytest.approx(9 / 15)  # "Sonneberg" empty, "Weimar" right
    assert writers["d"]["cer"] == 0 and writers["e"]["cer"] == pytest.approx(1 / 11)  # the others as before


def test_psm_chosen_on_validation_writers_only(fake_tesseract: Path, labels: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["--csv", str(labels), "--folds", "3", "--val-writers", "1", "--out", str(out),
                 "--choose-psm", "7,8", "--choose-images", "1"]) == 0
    choice = json.loads((out / "psm_choice.json").read_text(encoding="utf-8"))
    val = writer_folds(list(DATA), k=3, num_val=1, seed=0)[0].val_writers
    assert choice["val_writers"] == list(val) and choice["images"] == 1
    assert read_count(fake_tesseract) == 2  # one validation image per page mode, no test writer
    assert set(choice["psm"]) == {"7", "8"} and choice["chosen"] == 7  # a tie keeps the first
    record = run(labels, out)
    assert record["psm_choice"]["chosen"] == 7 and record["psm_choice"]["val_writers"] == list(val)


def test_compare_pairs_it_with_a_recipe(fake_tesseract: Path, labels: Path, tmp_path: Path) -> None:
    run(labels, tmp_path / "out")
    table, stats = compare(load_cv(tmp_path / "out"), load_cv(tmp_path / "out"), "recipe", "tesseract")
    assert stats["pairs"] == 3 and "| 0 |" in table


def test_missing_tesseract_names_the_packages(labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SystemExit) as e:
        main(["--csv", str(labels), "--out", str(tmp_path / "out")])
    message = str(e.value)
    assert "\n" not in message and "apt install tesseract-ocr tesseract-ocr-deu" in message
    assert not (tmp_path / "out").exists()


def test_missing_german_model_names_the_packages(
    fake_tesseract: Path, labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TESS_LANGS", "eng osd")
    with pytest.raises(SystemExit, match="'deu' language model .*tesseract-ocr-deu"):
        main(["--csv", str(labels), "--out", str(tmp_path / "out")])
