"""Tests for the dataset readers: labels CSV, IAM words.txt and .gt.txt folders, on tiny fixtures."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from htr_lit.data.formats import (
    DatasetFormatError,
    read_gt_folder,
    read_iam_words,
    read_labels_csv,
)


def _write(path: Path, text: str | bytes) -> Path:
    """Write `text` (UTF-8, no newline translation) or raw bytes to `path`, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------- labels CSV

CSV_TEXT = (
    "file_name,text,writer_id,extra\n"
    'img/a.png,"Straße, Nord",w1,x\n'
    'img/b.png,"sagte ""ja""",,y\n'
    "/abs/c.png,äöüß ÄÖÜ,w2,z\n"
)


def test_csv_parses_quotes_unicode_and_paths(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "labels.csv", CSV_TEXT)
    a, b, c = read_labels_csv(csv_path)
    assert (a.text, b.text, c.text) == ("Straße, Nord", 'sagte "ja"', "äöüß ÄÖÜ")
    assert a.path == tmp_path / "img" / "a.png" and a.path.is_absolute()
    # An absolute file_name leaves the dataset folder: kept as a flagged row for validation to report.
    assert "points outside the dataset folder" in c.problem and not a.problem and not b.problem
    assert (a.writer_id, b.writer_id, c.writer_id) == ("w1", None, "w2")
    assert a.origin == f"{csv_path}:2" and c.origin == f"{csv_path}:4"


def test_csv_accepts_bom_crlf_and_no_writer_column(tmp_path: Path) -> None:
    data = "\ufefffile_name,text\r\nx.png,Wort \r\n\r\ny.png,zwei\r\n".encode()
    samples = read_labels_csv(_write(tmp_path / "labels.csv", data))
    assert [(s.path.name, s.text, s.writer_id) for s in samples] == [
        ("x.png", "Wort ", None),
        ("y.png", "zwei", None),
    ]
    assert samples[1].origin.endswith("labels.csv:4")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_with_semicolons_or_tabs_from_a_spreadsheet(tmp_path: Path, delimiter: str) -> None:
    # A spreadsheet's "CSV UTF-8" export in a German locale: BOM, CRLF, ";" between fields, commas in the text.
    d = delimiter
    data = f'\ufefffile_name{d}text{d}writer_id\r\nx.png{d}"Straße, Nord"{d}w1\r\ny.png{d}Am Markt, 3{d}w2\r\n'
    samples = read_labels_csv(_write(tmp_path / "labels.csv", data.encode()))
    assert [(s.path.name, s.text, s.writer_id) for s in samples] == [
        ("x.png", "Straße, Nord", "w1"),
        ("y.png", "Am Markt, 3", "w2"),
    ]


def test_csv_with_commas_keeps_semicolons_in_texts(tmp_path: Path) -> None:
    samples = read_labels_csv(_write(tmp_path / "labels.csv", "file_name,text\nx.png,a;b\ty\n"))
    assert [s.text for s in samples] == ["a;b\ty"]


def test_csv_relative_path_argument_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "d" / "labels.csv", "file_name,text\nx.png,a\n")
    monkeypatch.chdir(tmp_path)
    (sample,) = read_labels_csv("d/labels.csv")
    assert sample.path == tmp_path / "d" / "x.png"


def test_csv_path_through_dotdot_keeps_rows_inside(tmp_path: Path) -> None:
    """`repo/../shared/data/labels.csv` (how the DHSD default is spelled) is no path traversal."""
    _write(tmp_path / "shared" / "labels.csv", "file_name,text\nimages/x.png,a\n")
    (tmp_path / "repo").mkdir()
    (sample,) = read_labels_csv(tmp_path / "repo" / ".." / "shared" / "labels.csv")
    assert not sample.problem and sample.path == tmp_path / "shared" / "images" / "x.png"


def test_csv_missing_column_names_file_and_found_columns(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "labels.csv", "image,text\nx.png,a\n")
    with pytest.raises(DatasetFormatError, match=r"missing required column") as err:
        read_labels_csv(csv_path)
    assert str(csv_path) in str(err.value) and "'file_name'" in str(err.value) and "'image'" in str(err.value)


def test_csv_unusable_rows_are_flagged_with_line_and_reason(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "labels.csv", "file_name,text\nx.png,a\ny.png,b,c\n,d\n../up.png,e\n")
    samples = read_labels_csv(csv_path)
    assert [(s.origin, s.problem.split(":")[0].split(" (")[0]) for s in samples if s.problem] == [
        (f"{csv_path}:3", "row has 3 field(s) but the header has 2"),
        (f"{csv_path}:4", "empty file_name"),
        (f"{csv_path}:5", "file_name '../up.png' points outside the dataset folder " + str(tmp_path)),
    ]
    assert "allow_absolute=true" in samples[-1].problem  # how to say the CSV may name images anywhere
    assert samples[0].path == tmp_path / "x.png" and not samples[0].problem


def test_csv_names_images_anywhere_when_told(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    csv_path = _write(tmp_path / "lists" / "labels.csv", f"file_name,text\n../scans/a.png,a\n{tmp_path}/b.png,b\n")
    assert all(s.problem for s in read_labels_csv(csv_path))
    anywhere = read_labels_csv(csv_path, allow_absolute=True)
    assert [s.path for s in anywhere] == [tmp_path / "lists" / ".." / "scans" / "a.png", tmp_path / "b.png"]
    assert not any(s.problem for s in anywhere)
    rooted = _write(tmp_path / "lists" / "rooted.csv", "file_name,text\na.png,a\n../b.png,b\n")
    samples = read_labels_csv(rooted, image_root=tmp_path / "scans")
    assert samples[0].path == tmp_path / "scans" / "a.png" and not samples[0].problem
    assert "outside the dataset folder" in samples[1].problem  # image_root alone still keeps rows inside it
    with pytest.raises(DatasetFormatError, match="image_root .* is not a folder"):
        read_labels_csv(rooted, image_root=tmp_path / "nope")


def test_csv_not_utf8_names_file_and_offset(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "labels.csv", b"file_name,text\nx.png,Stra\xdfe\n")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:2: not valid UTF-8.*byte offset 25"):
        read_labels_csv(csv_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ('file_name,text\nx.png,"open\n', "CSV syntax error"),
    ],
)
def test_csv_other_errors(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DatasetFormatError, match=message):
        read_labels_csv(_write(tmp_path / "labels.csv", content))


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"nope\.csv: labels CSV not found"):
        read_labels_csv(tmp_path / "nope.csv")


# --------------------------------------------------------------------------------------------- IAM words.txt

WORDS_TXT = """\
#--- words.txt ---
# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A
a01-000u-00-00 ok 154 408 768 27 51 AT A
a01-000u-00-01 err 154 507 766 213 48 NN MOVE
a01-000u-01-00 ok 156 395 932 441 59 VB to stop
a01-003-00-00 ok 180 100 100 50 50 AT The
"""
FORMS_TXT = """\
# forms.txt
a01-000u 000 2 prt 7 5 52 36
a01-003 001 2 prt 7 5 52 36
"""


@pytest.fixture
def iam(tmp_path: Path) -> Path:
    """A fake IAM tree: words.txt and forms.txt in `tmp_path` (no images needed to parse)."""
    _write(tmp_path / "words.txt", WORDS_TXT)
    _write(tmp_path / "forms.txt", FORMS_TXT)
    return tmp_path


def test_iam_words_paths_texts_and_origins(iam: Path) -> None:
    samples = read_iam_words(iam / "words.txt")
    assert [s.text for s in samples] == ["A", "MOVE", "to stop", "The"]
    assert samples[0].path == iam / "words" / "a01" / "a01-000u" / "a01-000u-00-00.png"
    assert samples[3].path == iam / "words" / "a01" / "a01-003" / "a01-003-00-00.png"
    assert samples[0].origin == f"{iam / 'words.txt'}:3"
    assert all(s.writer_id is None for s in samples)


def test_iam_skip_err_images_root_and_forms(iam: Path) -> None:
    samples = read_iam_words(
        iam / "words.txt", images_root=iam / "img", skip_err=True, forms_txt=iam / "forms.txt"
    )
    assert [s.text for s in samples] == ["A", "to stop", "The"]
    assert samples[0].path == iam / "img" / "a01" / "a01-000u" / "a01-000u-00-00.png"
    assert [s.writer_id for s in samples] == ["000", "000", "001"]


def test_iam_split_ids_by_form_and_by_line(iam: Path) -> None:
    by_form = read_iam_words(iam / "words.txt", split_ids=["a01-003"])
    assert [s.text for s in by_form] == ["The"]
    ids_file = _write(iam / "val.uttlist", "# lines\n\na01-000u-01\nzzz-000\n")
    by_line = read_iam_words(iam / "words.txt", split_ids=ids_file)
    assert [s.text for s in by_line] == ["to stop"]


def test_iam_malformed_line_names_file_and_line(iam: Path) -> None:
    words = _write(
        iam / "bad_words.txt", "# c\na01-000u-00-00 ok 154 408 768 27 51 AT A\na01-000u-00-01 ok 154\n"
    )
    with pytest.raises(DatasetFormatError, match=r"bad_words\.txt:3: expected at least 9 fields"):
        read_iam_words(words)


def test_iam_form_missing_from_forms_txt(iam: Path) -> None:
    forms = _write(iam / "few_forms.txt", "a01-000u 000 2 prt 7 5 52 36\n")
    with pytest.raises(DatasetFormatError, match=r"words\.txt:6: form 'a01-003' is not listed"):
        read_iam_words(iam / "words.txt", forms_txt=forms)


# --------------------------------------------------------------------------------------------- .gt.txt folder


@pytest.fixture
def gt_folder(tmp_path: Path) -> Path:
    """Nested writer folders with both .gt.txt naming styles, one unlabelled image and a stray text file."""
    root = tmp_path / "gt"
    _write(root / "w2" / "b.png", b"")
    _write(root / "w2" / "b.gt.txt", "Bär\n")
    _write(root / "w1" / "deep" / "a.JPG", b"")
    _write(root / "w1" / "deep" / "a.JPG.gt.txt", "\ufeffzwei Wörter\r\n")
    _write(root / "w1" / "c.tif", b"")
    _write(root / "w1" / "notes.txt", "not an image")
    return root


def test_gt_folder_reads_sorted_recursive(gt_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="htr_lit.data.formats"):
        samples = read_gt_folder(gt_folder, writer_from_parent=True)
    assert [(s.path, s.text, s.writer_id) for s in samples] == [
        (gt_folder / "w1" / "deep" / "a.JPG", "zwei Wörter", "deep"),
        (gt_folder / "w2" / "b.png", "Bär", "w2"),
    ]
    assert samples[1].origin == str(gt_folder / "w2" / "b.gt.txt")
    assert "1 image(s) without a .gt.txt" in caplog.text and "c.tif" in caplog.text
    assert f"e.g. {gt_folder / 'w1' / 'c.tif'}" in caplog.text
    assert all(s.writer_id is None for s in read_gt_folder(gt_folder))


def test_gt_folder_errors(gt_folder: Path) -> None:
    with pytest.raises(DatasetFormatError, match="ground-truth folder not found"):
        read_gt_folder(gt_folder / "missing")
    _write(gt_folder / "w2" / "b.gt.txt", b"B\xe4r\n")
    with pytest.raises(DatasetFormatError, match=r"b\.gt\.txt:1: not valid UTF-8"):
        read_gt_folder(gt_folder)
