"""Predict from a checkpoint alone: image / folder / glob / list inputs, batching, tsv / jsonl, every decoder,
bad inputs reported while the rest is transcribed; checkpoints from another config give a clear error."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

from htr_lit.checkpoint import FORMAT_VERSION, CheckpointError, load_model
from htr_lit.data import preprocess
from htr_lit.errors import ConfigError
from htr_lit.predict import expand_inputs, predict
from tests.helpers import compose_cfg
from tests.tiny_ckpt import word_images

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    return word_images(tmp_path_factory.mktemp("images"))


def run_predict(capsys, ckpt: Path, input: str | Path, *overrides: str) -> tuple[int, list[str], str]:
    # Quoted: Hydra's override grammar rejects unquoted non-ASCII (e.g. Köln.png).
    cfg = compose_cfg("predict", [f"ckpt_path={ckpt}", f"input='{input}'", *overrides])
    failed = predict(cfg)
    out, err = capsys.readouterr()
    return failed, out.splitlines(), err


def test_folder_tsv_in_any_batch_size(capsys, ckpt, images):
    failed, lines, _ = run_predict(capsys, ckpt, images[0].parent)
    assert failed == 0 and [line.split("\t")[0] for line in lines] == [str(p) for p in sorted(images)]
    assert all(len(line.split("\t")) == 2 for line in lines) and any(line.split("\t")[1] for line in lines)
    for batch_size in (1, 3):  # every image once, in order, whatever the batch size (texts may differ a
        _, other, _ = run_predict(capsys, ckpt, images[0].parent, f"batch_size={batch_size}")  # little:
        assert [line.split("\t")[0] for line in other] == [line.split("\t")[0] for line in lines]  # padding


def test_single_image_glob_and_list_file(capsys, ckpt, images, tmp_path):
    _, single, _ = run_predict(capsys, ckpt, images[3])
    assert len(single) == 1 and single[0].startswith(f"{images[3]}\t")
    _, globbed, _ = run_predict(capsys, ckpt, f"{images[0].parent}/[0-2]_*.png")
    assert [line.split("\t")[0] for line in globbed] == [str(p) for p in sorted(images)[:3]]
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# two images\n{images[5]}\n\n{images[1]}\n", encoding="utf-8")
    _, listed, _ = run_predict(capsys, ckpt, listing)
    assert [line.split("\t")[0] for line in listed] == [str(images[5]), str(images[1])]
    assert expand_inputs(str(listing)) == [images[5], images[1]]


def test_jsonl_has_text_and_confidence_and_top_n(capsys, ckpt, images):
    _, lines, _ = run_predict(capsys, ckpt, images[0].parent, "format=jsonl")
    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"path", "text", "confidence"} and 0 < r["confidence"] <= 1 for r in records)
    _, lines, _ = run_predict(capsys, ckpt, images[2], "format=jsonl", "decoder=beam", "top_n=3")
    (record,) = [json.loads(line) for line in lines]
    hyps = record["hypotheses"]
    assert 1 <= len(hyps) <= 3 and hyps[0]["text"] == record["text"]
    # confidence = P(text | image) under CTC, every alignment summed: at least the beam's own score (its CTC part
    # sums the alignments the beam kept, its LM part is a log-probability <= 0), and at most 1
    assert math.exp(hyps[0]["score"]) - 1e-3 <= record["confidence"] <= 1.0
    assert [h["score"] for h in hyps] == sorted((h["score"] for h in hyps), reverse=True)


@pytest.mark.parametrize("decoder", ["greedy", "beam", "lexicon", "closest"])
def test_every_decoder(capsys, ckpt, images, decoder):
    failed, lines, _ = run_predict(capsys, ckpt, images[0].parent, f"decoder={decoder}", "top_n=2")
    assert failed == 0 and len(lines) >= len(images)  # top_n=2: up to two `path\ttext\tscore` lines each
    assert all(len(line.split("\t")) == 3 for line in lines)
    if decoder == "closest":  # the closest training word
        assert {line.split("\t")[1] for line in lines} <= set(load_model(ckpt)[0].htr_meta["train_texts"])


def test_unreadable_inputs_are_reported_and_the_rest_transcribed(capsys, ckpt, images, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in images[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    (folder / "empty.jpg").write_bytes(b"")
    failed, lines, err = run_predict(capsys, ckpt, folder, "batch_size=2")
    assert failed == 2 and len(lines) == 3
    assert f"{folder / 'broken.png'}: cannot decode image" in err and f"{folder / 'empty.jpg'}: empty file" in err


def test_file_names_with_tabs_line_breaks_or_quotes_keep_their_rows(capsys, ckpt, images, tmp_path):
    folder = tmp_path / "odd names"
    folder.mkdir()
    names = ["tab\there.png", "line\nbreak.png", 'say "hi".png', "carriage\rreturn.png", "plain.png"]
    for name in names:
        (folder / name).write_bytes(images[0].read_bytes())
    def rows(*overrides: str) -> list[list[str]]:  # stdout as written, parsed as a TSV with CSV quoting
        assert predict(compose_cfg("predict", [f"ckpt_path={ckpt}", f"input='{folder}'", *overrides])) == 0
        return list(csv.reader(io.StringIO(capsys.readouterr().out, newline=""), delimiter="\t"))

    best = rows()
    assert sorted(r[0] for r in best) == sorted(str(folder / n) for n in names)
    assert all(len(r) == 2 for r in best)
    assert [r[0] for r in best if r[0].endswith("plain.png")] == [str(folder / "plain.png")]
    top = rows("top_n=2", "decoder=beam")
    assert len(top) == 2 * len(names) and all(len(r) == 3 for r in top)


def test_an_image_over_the_pixel_cap_is_refused_by_name_without_pillows_warning(
    capsys, ckpt, tmp_path, monkeypatch
):
    # Pillow's limits scaled down with ours: it warns above MAX_IMAGE_PIXELS and refuses above twice that.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    monkeypatch.setattr(preprocess, "MAX_DECODE_PIXELS", 2500)
    folder = tmp_path / "sizes"
    folder.mkdir()
    for width in (60, 80, 120):  # x 40 px: 2,400 read; 3,200 over our cap; 4,800 refused by Pillow first
        im = Image.new("L", (width, 40), 255)
        im.paste(0, (10, 10, width - 10, 30))
        im.save(folder / f"w{width}.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        failed, lines, err = run_predict(capsys, ckpt, folder)
    assert failed == 2 and [line.split("\t")[0] for line in lines] == [str(folder / "w60.png")]
    assert f"{folder / 'w80.png'}: image is 80x40, over the 2500 pixel cap" in err
    assert f"{folder / 'w120.png'}: image is over the 2500 pixel cap" in err
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_progress_bar_on_request_and_never_into_a_pipe(capsys, ckpt, images):
    failed, lines, err = run_predict(capsys, ckpt, images[0].parent, "progress=true")
    assert failed == 0 and f"{len(lines)}/{len(lines)}" in err and "img/s" in err
    assert all("\t" in line for line in lines)  # the bar stays on stderr
    assert "img/s" not in run_predict(capsys, ckpt, images[0].parent)[2]  # default: stderr is no terminal here


def test_missing_input_is_a_clear_error(ckpt, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image, folder, list file or glob match"):
        expand_inputs(str(tmp_path / "nothing*.png"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no images here", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"notes: the folder holds no image files \(.*\.png.*searched"):
        expand_inputs(str(tmp_path / "notes"))
    (tmp_path / "inputs.txt").write_text("# nothing listed\n\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="inputs.txt: the list file names no image"):
        expand_inputs(str(tmp_path / "inputs.txt"))


def test_list_file_with_bom_indented_comments_or_other_encoding(images, tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + f"{images[2]}\n  # skipped\n\n  {images[0]}  \n".encode())
    assert expand_inputs(str(listing)) == [images[2], images[0]]
    listing.write_bytes(f"{images[0]}\n".encode() + "Köln.png\n".encode("latin-1"))
    with pytest.raises(FileNotFoundError, match=r"inputs.txt: the list file is not UTF-8 text \(bad byte at offset"):
        expand_inputs(str(listing))


def test_a_home_relative_path_is_expanded(images, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.png").write_bytes(images[0].read_bytes())
    (tmp_path / "list.txt").write_text("~/w.png\n", encoding="utf-8")
    assert expand_inputs("~/w.png") == [tmp_path / "w.png"]
    assert expand_inputs("~/*.png") == [tmp_path / "w.png"]
    assert expand_inputs("~/list.txt") == [tmp_path / "w.png"]


def test_a_home_relative_checkpoint_is_found(capsys, ckpt, images, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(ckpt.parent))
    # quoted as htr_lit.overrides quotes it on the command line (Hydra rejects a bare leading ~)
    failed, lines, err = run_predict(capsys, f"'~/{ckpt.name}'", images[0])  # type: ignore[arg-type]
    assert failed == 0 and len(lines) == 1 and "not usable" not in err


def test_glob_takes_images_and_matched_folders_and_skips_other_files(images, tmp_path, caplog):
    scans = tmp_path / "scans"
    (scans / "batch_2").mkdir(parents=True)
    (scans / "labels.csv").write_text("file_name,text\n", encoding="utf-8")
    first, second = scans / "a.png", scans / "batch_2" / "b.png"
    first.write_bytes(images[0].read_bytes())
    second.write_bytes(images[1].read_bytes())
    with caplog.at_level("WARNING", logger="htr_lit.predict"):
        assert expand_inputs(str(scans / "*")) == [first, second]
    assert "skipped 1 matched file(s) that are not images, e.g." in caplog.text and "labels.csv" in caplog.text
    with pytest.raises(FileNotFoundError, match=r"the pattern matches 1 path\(s\) but no image file"):
        expand_inputs(str(scans / "*.csv"))


@pytest.mark.parametrize(("override", "message"), [
    ("batch_size=-3", "batch_size=-3: images per forward pass, a positive number"),
    ("device=gpu", r"device=gpu: not a torch device \(cpu, cuda, cuda:N, mps\)"),
    pytest.param("device=cuda", "device=cuda: this torch sees no CUDA GPU",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there")),
])
def test_a_bad_batch_size_or_device_is_a_clear_error(ckpt, images, override, message):
    with pytest.raises(ConfigError, match=message):
        predict(compose_cfg("predict", [f"ckpt_path={ckpt}", f"input={images[0]}", override]))


def test_predict_without_input_says_what_to_pass(ckpt):
    with pytest.raises(ConfigError, match="input= is required: an image, a folder, a glob"):
        predict(compose_cfg("predict", [f"ckpt_path={ckpt}"]))


# ------------------------------------------------------------------------------------ checkpoint errors


def test_checkpoint_from_another_model_config_is_a_clear_error(ckpt, tmp_path):
    data = torch.load(ckpt, weights_only=True)
    data["htr_lit"]["model_cfg"]["sequence"]["channels"] = 16  # the weights were trained with 8
    other = tmp_path / "other.ckpt"
    torch.save(data, other)
    with pytest.raises(CheckpointError, match=r"other\.ckpt: weights do not match the model config .*size mismatch"):
        load_model(other)
    data["htr_lit"]["model_cfg"]["sequence"]["_target_"] = "htr_lit.models.sequence.gone.Gone"
    torch.save(data, other)
    with pytest.raises(CheckpointError, match=r"other\.ckpt: cannot rebuild the model from the config stored"):
        load_model(other)


def test_format_version_is_checked_and_files_from_before_it_still_load(ckpt, tmp_path):
    data = torch.load(ckpt, weights_only=True)
    assert data["htr_lit"]["format_version"] == FORMAT_VERSION == 1
    del data["htr_lit"]["format_version"]  # an early file, saved before the key existed: version 1
    torch.save(data, tmp_path / "old.ckpt")
    model, _ = load_model(tmp_path / "old.ckpt")
    assert model.charset.chars == load_model(ckpt)[0].charset.chars
    data["htr_lit"]["format_version"] = FORMAT_VERSION + 1
    torch.save(data, tmp_path / "new.ckpt")
    with pytest.raises(CheckpointError, match=rf"new\.ckpt: checkpoint format version {FORMAT_VERSION + 1} is newer"):
        load_model(tmp_path / "new.ckpt")


class ForeignObject:
    """What another project's checkpoint may pickle besides tensors (a callback's state)."""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint at all", r"not a PyTorch checkpoint \(unknown content\); pass the .ckpt a training run"),
        (b"\x89PNG\r\n\x1a\n....", r"not a PyTorch checkpoint \(a PNG image file\)"),
        ("truncated", "cannot read checkpoint, truncated or damaged"),
        ("object", "holds Python objects besides weights"),
        ({"state_dict": {}}, "not an htr-lit checkpoint"),
        ({"state_dict": {}, "htr_lit": {"model_cfg": {}}}, "without \\['charset', 'preprocess'\\]"),
    ],
)
def test_foreign_or_broken_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "x.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "truncated":
        torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    elif content == "object":
        torch.save({"state_dict": {}, "callback": ForeignObject()}, path)
    else:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=rf"x\.ckpt: .*{message}"):
        load_model(path)


def test_predict_with_one_unstretched_reading_prints_what_it_prints_without(capsys, ckpt, images):
    folder = images[0].parent
    plain = run_predict(capsys, ckpt, folder, "backend=torch")[1]
    assert run_predict(capsys, ckpt, folder, "backend=torch", "tta=[1.0]")[1] == plain


def test_predict_with_stretches_gives_one_line_per_image_and_a_confidence(capsys, ckpt, images):
    folder = images[0].parent
    plain = run_predict(capsys, ckpt, folder, "backend=torch")[1]
    lines = run_predict(capsys, ckpt, folder, "backend=torch", "tta=true")[1]
    assert [line.split("\t")[0] for line in lines] == [line.split("\t")[0] for line in plain]
    records = [json.loads(line) for line in run_predict(capsys, ckpt, folder, "backend=torch", "tta=true",
                                                        "format=jsonl")[1]]
    assert [r["text"] for r in records] == [line.split("\t")[1] for line in lines]
    assert all(0.0 <= r["confidence"] <= 1.0 for r in records)
    with pytest.raises(ConfigError, match="tta=0"):
        run_predict(capsys, ckpt, folder, "tta=0")
