"""The inference backends: onnxruntime gives torch's texts, int8 stays within a stated CER of fp32, the
width-sorted batching hands results back in input order, and every backend treats unreadable inputs alike."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchmetrics.functional.text import char_error_rate

from htr_lit.data.collate import collate
from htr_lit.data.preprocess import to_tensor
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.errors import ConfigError
from htr_lit.inference.backend import build_backend
from htr_lit.inference.batching import decode_images, pad_batch, width_batches
from htr_lit.inference.onnx_backend import MissingExtraError, cached_onnx
from htr_lit.predict import predict
from tests.helpers import WORDS, compose_cfg, write_word_png

pytestmark = pytest.mark.usefixtures("one_thread")
BACKENDS = {"torch": ["backend=torch"], "onnx": ["backend=onnx"], "onnx-int8": ["backend=onnx", "int8=true"]}
# int8 vs fp32 texts of the tiny test model: CER at most 0.15 (measured 0.063 on this set). Static int8 rounds
# every activation to 1/255 of its calibrated range; a model trained for seconds has flat frame posteriors,
# so a few argmax flips are expected, and the margin covers CPUs whose int8 kernels round differently. The
# shipped recognizer is far steadier: 0.63 % CER against torch on 300 test names (docs/performance.md).
INT8_MAX_CER = 0.15


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint()


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """30 word images: the 10 training words at three heights (so three widths each)."""
    folder = tmp_path_factory.mktemp("words")
    for height in (32, 40, 48):
        for i, text in enumerate(WORDS):
            write_word_png(folder / f"{height}_{i}.png", text, height=height)
    return folder


def run(capsys, ckpt: Path, input: Path, cache: Path, *overrides: str) -> tuple[int, list[str], str]:
    cfg = compose_cfg("predict", [f"ckpt_path={ckpt}", f"input={input}", f"cache_dir={cache}", *overrides])
    failed = predict(cfg)
    out, err = capsys.readouterr()
    return failed, out.splitlines(), err


def test_onnx_gives_torch_texts_and_int8_stays_within_its_cer(capsys, ckpt, images, cache):
    _, torch_lines, _ = run(capsys, ckpt, images, cache, *BACKENDS["torch"], "batch_size=8")
    _, onnx_lines, _ = run(capsys, ckpt, images, cache, *BACKENDS["onnx"], "batch_size=8")
    _, int8_lines, _ = run(capsys, ckpt, images, cache, *BACKENDS["onnx-int8"], "batch_size=8")
    assert len(torch_lines) == 30 and any(line.split("\t")[1] for line in torch_lines)
    assert onnx_lines == torch_lines
    texts = [[line.split("\t")[1] for line in lines] for lines in (torch_lines, int8_lines)]
    assert [line.split("\t")[0] for line in int8_lines] == [line.split("\t")[0] for line in torch_lines]
    assert float(char_error_rate(texts[1], texts[0])) <= INT8_MAX_CER
    assert sorted(p.name for p in cache.iterdir()) == sorted(  # exported once, keyed by the checkpoint
        p.name for p in cache.glob("*-v1-opset17*.onnx")) and len(list(cache.iterdir())) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_inputs_are_reported_and_the_rest_transcribed_by_every_backend(
        capsys, ckpt, images, cache, tmp_path, backend):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("32_0.png", "40_1.png", "48_2.png"):
        (folder / name).write_bytes((images / name).read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    (folder / "empty.jpg").write_bytes(b"")
    failed, lines, err = run(capsys, ckpt, folder, cache, *BACKENDS[backend], "batch_size=2")
    assert failed == 2  # what main turns into exit code 1, as for torch
    assert [line.split("\t")[0] for line in lines] == [str(folder / n) for n in ("32_0.png", "40_1.png", "48_2.png")]
    assert f"{folder / 'broken.png'}: cannot decode image" in err and f"{folder / 'empty.jpg'}: empty file" in err


class WidthEcho:
    """A fake backend: one frame per image whose best class is its width - 15; records the batches it gets."""

    name = "echo"

    def __init__(self) -> None:
        self.batches: list[tuple[int, list[int]]] = []

    def run(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.batches.append((images.shape[-1], widths.tolist()))
        log_probs = torch.full((len(widths), 1, 40), -10.0)  # (B, T=1, C)
        log_probs[torch.arange(len(widths)), 0, widths - 15] = 0.0
        return log_probs, torch.ones(len(widths), dtype=torch.int64)


def test_width_sorted_batches_come_back_in_input_order():
    widths = [30, 17, 25, 16, 40, 22, 19]
    images = [np.full((8, w), 255, dtype=np.uint8) for w in widths]
    for im in images:
        im[2:6, 1:4] = 0  # some ink: a blank image would not reach the backend
    tokens = ["", *(chr(ord("A") + i) for i in range(39))]  # class k -> letter k-1
    backend = WidthEcho()
    texts = [h[0].text for h in decode_images(images, backend, GreedyDecoder(tokens), batch_size=3)]
    assert texts == [tokens[w - 15] for w in widths]  # input order
    assert [b for _, b in backend.batches] == [[16, 17, 19], [22, 25, 30], [40]]  # narrowest first
    assert [padded for padded, _ in backend.batches] == [19, 30, 40]  # each padded to its own widest
    assert width_batches([5, 5, 3], 2) == [[2, 0], [1]]  # stable for equal widths


def test_blank_images_read_as_empty_text_without_the_model():
    images = [np.full((8, 20), 255, np.uint8), np.full((8, 30), 255, np.uint8), np.full((8, 25), 0, np.uint8)]
    images[1][2:6, 1:4] = 0
    tokens = ["", *(chr(ord("A") + i) for i in range(39))]
    backend = WidthEcho()
    texts = [h[0].text for h in decode_images(images, backend, GreedyDecoder(tokens), batch_size=4)]
    assert texts == ["", tokens[30 - 15], ""] and backend.batches == [(30, [30])]


def test_predict_reads_blank_and_transparent_images_as_empty_and_negatives_like_positives(capsys, ckpt, tmp_path):
    from PIL import Image, ImageOps

    folder = tmp_path / "odd"
    write_word_png(folder / "word.png", WORDS[0])
    ImageOps.invert(Image.open(folder / "word.png").convert("L")).save(folder / "negative.png")
    Image.new("L", (120, 40), 255).save(folder / "white.png")
    Image.new("RGBA", (120, 40), (0, 0, 0, 0)).save(folder / "transparent.png")
    failed = predict(compose_cfg("predict", [f"ckpt_path={ckpt}", f"input={folder}"]))
    out = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert failed == 0
    assert out[str(folder / "white.png")] == "" and out[str(folder / "transparent.png")] == ""
    assert out[str(folder / "negative.png")] == out[str(folder / "word.png")]


def test_pad_batch_is_collate_of_to_tensor():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (8, w), dtype=np.uint8) for w in (5, 9, 7)]
    x, w = pad_batch(images)
    ref = collate([{"image": to_tensor(im), "target": [], "text": "", "id": ""} for im in images])
    assert torch.equal(x, ref["images"]) and torch.equal(w, ref["widths"])


def test_backend_choices_are_checked(ckpt, monkeypatch, tmp_path):
    from htr_lit.checkpoint import load_model

    model, pre = load_model(ckpt)
    with pytest.raises(ConfigError, match="backend=tensorrt: choose auto, torch or onnx"):
        build_backend("tensorrt", model, pre, ckpt)
    with pytest.raises(ConfigError, match="int8=true needs backend=onnx"):
        build_backend("torch", model, pre, ckpt, int8=True)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install htr-lit\[export\]"):
        cached_onnx(model, pre, ckpt, tmp_path)


def test_auto_runs_onnx_on_the_cpu_and_torch_without_onnxruntime_or_when_the_export_fails(
        ckpt, cache, monkeypatch, caplog):
    from htr_lit.checkpoint import load_model
    from htr_lit.inference import backend as backends

    model, pre = load_model(ckpt)
    assert backends.onnx_installed()  # the base install has it
    assert build_backend("auto", model, pre, ckpt, cache_dir=cache).name == "onnx"
    assert build_backend("auto", model, pre, ckpt, cache_dir=cache, int8=True).name == "onnx-int8"
    monkeypatch.setattr(backends, "onnx_installed", lambda: False)
    assert build_backend("auto", model, pre, ckpt, cache_dir=cache).name == "torch"
    monkeypatch.undo()

    def broken_export(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::fancy' to ONNX opset 17 is not supported")

    monkeypatch.setattr("htr_lit.inference.onnx_backend.cached_onnx", broken_export)
    with caplog.at_level("WARNING", logger="htr_lit.predict"):
        assert build_backend("auto", model, pre, ckpt, cache_dir=cache).name == "torch"
    assert "backend=auto: ONNX is not usable for" in caplog.text and "aten::fancy" in caplog.text
    with pytest.raises(RuntimeError, match="aten::fancy"):  # asked for by name, the failure is not hidden
        build_backend("onnx", model, pre, ckpt, cache_dir=cache)


def test_predict_defaults_to_auto_and_reads_like_torch(capsys, ckpt, images, cache):
    assert compose_cfg("predict", ["input=x.png"]).backend == "auto"
    auto = run(capsys, ckpt, images, cache)
    torch_run = run(capsys, ckpt, images, cache, "backend=torch")
    assert auto[0] == torch_run[0] == 0 and auto[1] == torch_run[1] and len(auto[1]) == 30


# ------------------------------------------------------------------------------------ the predict benchmark


def test_bench_predict_times_every_backend_and_keeps_its_section(ckpt, images, tmp_path):
    from htr_lit.measuring.bench_predict import bench
    from htr_lit.measuring.bench_predict_markdown import NAME, WRITER, section
    from htr_lit.results import doc_block

    BEGIN, END = doc_block.markers(NAME, WRITER)

    labels = {p: WORDS[int(p.stem.split("_")[1])] for p in sorted(images.glob("32_*.png"))}
    rows = bench(labels, ckpt, ["torch", "onnx"], batch_size=4, threads=1, repeats=2, tmp=tmp_path)
    assert [r["backend"] for r in rows] == ["torch", "onnx"]
    for r in rows:
        assert len(r["runs_img_s"]) == 2 and r["img_s"] > 0 and r["startup_s"] > 0 and 0 <= r["cer"] <= 1
        assert r["load_ms"] > 0 and r["model_ms"] > 0
    assert rows[0]["first_use_s"] == 0 < rows[1]["first_use_s"] and rows[1]["cer_vs_torch"] == 0.0
    assert [r["batch_size"] for r in rows] == [4, 4]
    report = {"machine": {"date_utc": "d", "cpu": "c", "cpu_count": 2, "load_avg_1m_at_start": 0.5}, "import_s": 1.0,
              "backends": rows, "settings": {"args": "", "images": 10, "source": "s", "ckpt": "k", "threads": 1,
                                             "repeats": 2}}
    md = section(report)
    assert "| onnx |" in md and md.count("\n| ") == 4  # header, rule, two backends
    assert f"| {rows[1]['load_ms']:.2f} | {rows[1]['model_ms']:.2f} |" in md
    doc = doc_block.splice(md, "# Performance\n\nmodel table\n", NAME, WRITER)
    assert doc.startswith("# Performance\n\nmodel table\n\n" + BEGIN) and doc.rstrip().endswith(END)
    assert doc_block.splice("new", doc, NAME, WRITER) == f"# Performance\n\nmodel table\n\n{BEGIN}\nnew\n{END}\n"
    assert doc_block.kept(doc, NAME).strip() == doc.split("model table\n", 1)[1].strip()  # bench_markdown re-appends it


def test_bench_predict_times_several_checkpoints_in_one_run(ckpt, images, tmp_path):
    """--ckpt A B: one row per checkpoint x backend, each backend's CER checked against its own model's torch."""
    import shutil

    from htr_lit.measuring.bench_predict import bench
    from htr_lit.measuring.bench_predict_markdown import section

    other = shutil.copy(ckpt, tmp_path / "fast.ckpt")
    labels = {p: WORDS[int(p.stem.split("_")[1])] for p in sorted(images.glob("32_*.png"))}
    rows = bench(labels, [ckpt, other], ["torch", "onnx"], batch_size=4, threads=1, repeats=1, tmp=tmp_path)
    assert [(r["model"], r["backend"]) for r in rows] == [
        (Path(ckpt).stem, "torch"), (Path(ckpt).stem, "onnx"), ("fast", "torch"), ("fast", "onnx")]
    assert [r["cer_vs_torch"] for r in rows] == [0.0, 0.0, 0.0, 0.0] and rows[0]["cer"] == rows[2]["cer"]
    report = {"machine": {"date_utc": "d", "cpu": "c", "cpu_count": 2, "load_avg_1m_at_start": 0.5}, "import_s": 1.0,
              "backends": rows, "settings": {"args": "", "images": 10, "source": "s", "ckpt": "k", "threads": 1,
                                             "repeats": 1}}
    md = section(report)
    assert "| model | backend | batch | images/s | x torch of the first |" in md
    assert "| fast | onnx | 4 |" in md and md.count("\n| ") == 6  # header, rule, four rows


def test_bench_predict_times_the_test_time_stretch_as_a_backend_row(ckpt, images, tmp_path):
    from htr_lit.measuring.bench_predict import bench

    labels = {p: WORDS[int(p.stem.split("_")[1])] for p in sorted(images.glob("32_*.png"))}
    rows = bench(labels, ckpt, ["torch", "torch-tta", "onnx-tta"], batch_size=4, threads=1, repeats=1, tmp=tmp_path)
    assert [r["backend"] for r in rows] == ["torch", "torch-tta", "onnx-tta"]
    assert all(r["img_s"] > 0 and r["model_ms"] > 0 and 0 <= r["cer_vs_torch"] <= 1 for r in rows)
    assert rows[2]["first_use_s"] > 0 == rows[1]["first_use_s"]  # onnx-tta exports, torch-tta does not


def test_bench_predict_times_the_names_lm_as_a_backend_row(ckpt, images, tmp_path, monkeypatch):
    """`-names`: predict's decoder=beam_names (shrunk here: 500 names, no word list) with its word confidence."""
    from htr_lit.config import compose_config
    from htr_lit.measuring import bench_predict

    small = ["decoder.lm_num_names=500", "decoder.lm_word_lists=[]", f"decoder.lm_cache_dir={tmp_path / 'lm'}"]
    monkeypatch.setattr(bench_predict, "decoder_spec",
                        lambda name: compose_config("predict", [f"decoder={name}", *small]).decoder)
    labels = {p: WORDS[int(p.stem.split("_")[1])] for p in sorted(images.glob("32_*.png"))}
    rows = bench_predict.bench(labels, ckpt, ["torch", "torch-names"], batch_size=4, threads=1, repeats=1,
                               tmp=tmp_path)
    assert [r["backend"] for r in rows] == ["torch", "torch-names"]
    assert all(r["img_s"] > 0 and 0 <= r["cer_vs_torch"] <= 1 for r in rows)
    assert any((tmp_path / "lm").iterdir())  # the names LM was built for the run
