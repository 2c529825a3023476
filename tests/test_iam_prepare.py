"""`htr-data iam` on a fake IAM download (words.txt, forms.txt, the words/ tree and the split lists):
missing pieces are named with where to get them, the split CSVs read back with the right writer ids."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from htr_lit import data_cli
from htr_lit.data import formats
from htr_lit.data.real import iam
from htr_lit.data.real.iam import IAMFilesError
from htr_lit.data.sources import LabelsCSVSource
from tests.helpers import write_word_png

# form -> (writer in forms.txt, split list holding its line 00)
FORMS = {"a01-000u": ("000", "trainset.txt"), "a01-003": ("001", "trainset.txt"),
         "b02-010": ("002", "validationset1.txt"), "c03-020": ("003", "validationset2.txt"),
         "d04-030": ("004", "testset.txt")}
# per form: (word number, segmentation, transcription); "," and '"' are real IAM words (CSV quoting)
WORDS = [(0, "ok", "A"), (1, "ok", ","), (2, "err", '"')]
OFFICIAL = "largeWriterIndependentTextLineRecognitionTask"


def fake_iam(root: Path, forms_txt: bool = True) -> Path:
    """An IAM download as unpacked from ascii.tgz, words.tgz and the task zip. The real words.txt's header
    shows a component count after the gray level that its data lines do not have; so here too."""
    (root / "ascii").mkdir(parents=True)
    lines = ["#--- words.txt ---", "# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A"]
    for form in FORMS:
        for n, status, text in WORDS:
            word_id = f"{form}-00-{n:02d}"
            lines.append(f"{word_id} {status} 154 408 768 27 51 AT {text}")  # real lines: no "1" field
            write_word_png(root / "words" / form.split("-")[0] / form / f"{word_id}.png", text or "x")
    (root / "ascii" / "words.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if forms_txt:
        forms = [f"{form} {writer} 2 prt 7 5 52 36" for form, (writer, _) in FORMS.items()]
        (root / "ascii" / "forms.txt").write_text("# forms\n" + "\n".join(forms) + "\n", encoding="utf-8")
    (root / OFFICIAL).mkdir()
    for form, (_, list_name) in FORMS.items():
        with open(root / OFFICIAL / list_name, "a", encoding="utf-8") as f:
            f.write(f"{form}-00\n")
    return root


def test_an_empty_folder_names_every_missing_piece_and_where_to_get_it(tmp_path):
    with pytest.raises(IAMFilesError) as err:
        iam.locate(tmp_path)
    message = str(err.value)
    for piece in (f"ROOT={tmp_path}", "words.txt (looked in ROOT, ROOT/ascii): unpack ascii.tgz",
                  "ROOT/words/a01/a01-000u/a01-000u-00-00.png ...: unpack words.tgz",
                  "trainset.txt, validationset1.txt, validationset2.txt, testset.txt (looked in ROOT, ",
                  "largeWriterIndependentTextLineRecognitionTask.zip", iam.IAM_PAGE):
        assert piece in message
    assert "forms.txt" not in message  # optional


def test_one_missing_list_is_the_only_thing_named(tmp_path):
    root = fake_iam(tmp_path / "iam")
    (root / OFFICIAL / "validationset2.txt").unlink()
    only = r"missing:\n  - the official split list\(s\) validationset2\.txt \(looked"
    with pytest.raises(IAMFilesError, match=only) as e:
        iam.locate(root)
    assert str(e.value).count("\n  - ") == 1


def test_split_csvs_read_back_with_forms_txt_writer_ids(tmp_path):
    root = fake_iam(tmp_path / "iam")
    written = iam.write_splits(iam.locate(root), tmp_path / "out")  # out outside root: linked words/
    assert {k: v[1:] for k, v in written.items()} == {"train": (6, 2), "val": (6, 2), "test": (3, 1)}
    train = formats.read_labels_csv(tmp_path / "out" / "train.csv")
    assert [(s.writer_id, s.text) for s in train[:3]] == [("000", "A"), ("000", ","), ("000", '"')]
    assert all(s.path.is_file() for s in train) and (tmp_path / "out" / "words").is_symlink()
    val = formats.read_labels_csv(tmp_path / "out" / "val.csv")
    assert {s.writer_id for s in val} == {"002", "003"}  # both validation sets
    splits = LabelsCSVSource(train_csv=str(tmp_path / "out" / "train.csv"), val_csv=str(tmp_path / "out" / "val.csv"),
                             test_csv=str(tmp_path / "out" / "test.csv")).load()
    assert [len(splits[k]) for k in ("train", "val", "test")] == [6, 6, 3]


def test_skip_err_and_writer_ids_from_the_form_without_forms_txt(tmp_path, caplog):
    root = fake_iam(tmp_path / "iam", forms_txt=False)
    with caplog.at_level(logging.WARNING):
        written = iam.write_splits(iam.locate(root), root, skip_err=True)  # out = root: no link needed
    assert written["train"][1:] == (4, 2) and not (root / "words").is_symlink()
    train = formats.read_labels_csv(root / "train.csv")
    assert {s.writer_id for s in train} == {"a01-000u", "a01-003"} and '"' not in {s.text for s in train}
    assert "writer_id is the form id" in caplog.text


def test_a_missing_or_empty_image_is_named_or_skipped(tmp_path):
    root = fake_iam(tmp_path / "iam")
    (root / "words/b02/b02-010/b02-010-00-01.png").unlink()
    (root / "words/d04/d04-030/d04-030-00-00.png").write_bytes(b"")
    files = iam.locate(root)
    with pytest.raises(IAMFilesError, match=r"2 word image\(s\).*\n.*words\.txt:\d+: .*b02-010-00-01\.png"):
        iam.write_splits(files, tmp_path / "out")
    written = iam.write_splits(files, tmp_path / "out", skip_missing_images=True)
    assert written["val"][1] == 5 and written["test"][1] == 2


def test_the_aachen_scheme_and_own_lists(tmp_path):
    root = fake_iam(tmp_path / "iam")
    (root / "splits").mkdir()
    for name, forms in (("train.txt", "a01-000u a01-003 b02-010"), ("valid.txt", "c03-020"), ("test.txt", "d04-030")):
        (root / "splits" / name).write_text("\n".join(forms.split()) + "\n", encoding="utf-8")  # form ids
    written = iam.write_splits(iam.locate(root, scheme="aachen"), tmp_path / "a")
    assert [written[k][2] for k in ("train", "val", "test")] == [3, 1, 1]
    own = {"train": root / "splits" / "valid.txt", "val": root / "splits" / "test.txt", "test": root / "nope.txt"}
    with pytest.raises(IAMFilesError, match=r"the test id list .*nope\.txt \(given on the command line\)"):
        iam.locate(root, split_files=own)


def test_the_cli_prints_the_splits_and_the_training_command(tmp_path, capsys):
    root = fake_iam(tmp_path / "iam")
    assert data_cli.main(["iam", "--root", str(root), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"train: 6 words, 2 writers -> {tmp_path / 'out' / 'train.csv'}" in out
    assert f"data.source.test_csv={tmp_path / 'out' / 'test.csv'}" in out
    with pytest.raises(SystemExit) as usage:
        data_cli.main(["iam", "--root", str(root), "--train-ids", "x.txt"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as missing:
        data_cli.main(["iam", "--root", str(tmp_path / "empty")])
    assert str(missing.value.code).startswith("error: ") and "IAM folder not found" in str(missing.value.code)
