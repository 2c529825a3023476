"""The error-analysis page: its pieces, `htr_lit.inspect` on a tiny checkpoint (scored like eval, bad rows
listed), and the page rendered by headless Chromium (slow; skipped where Chromium is not installed)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr_lit.analysis.error_analysis import WordResult
from htr_lit.analysis.inspect_html import diff_html, strip_html
from htr_lit.analysis.inspect_page import PageInput, render_page
from htr_lit.analysis.inspect_trust import acceptance_rows
from htr_lit.eval import evaluate
from htr_lit.inspect import inspect, pick
from tests.helpers import compose_cfg, write_writer_labels
from tests.test_e2e import run_cli


class Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes), in order, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def word(truth: str, pred: str, writer: str | None, width: int = 40, frames: list[int] | None = None) -> WordResult:
    image = np.full((32, width), 255, np.uint8)
    image[10:20, 5 : width - 5] = 0
    return WordResult(id=f"labels.csv:{truth}", truth=truth, pred=pred, writer=writer, image=image,
                      frames=frames or [0, 1, 1, 0, 2, 0, 0, 3, 0, 0], image_file=f"img/{truth}.png")


def test_strip_places_each_frame_character_at_its_columns() -> None:
    # 10 frames over a 40 px image drawn 64 px high (scale 2): frame t is centred at (t + 0.5) * 8 px.
    html = strip_html(word("abc", "abc", None), ["", "a", "b", "c"], display_height=64)
    doc = Elements(html)
    img = doc.find("img")[0]
    assert (img["width"], img["height"]) == ("80", "64") and decode_png(img["src"]).size == (40, 32)
    chars = re.findall(r'<b class="([^"]+)" style="left:([\d.]+)px">([^<]*)</b>', html)
    assert [(float(x), ch) for _, x, ch in chars] == [(12.0, "a"), (20.0, "a"), (36.0, "b"), (60.0, "c")]
    assert [cls for cls, _, _ in chars] == ["ok", "ok rep", "ok", "ok"]  # the repeated "a" is merged by CTC


def test_diff_marks_substitutions_insertions_deletions() -> None:
    doc = Elements(diff_html("Mühle", "Mhlex"))  # ü missing, x added
    assert [a["class"] for a in doc.find("td")] == ["ok", "del", "ok", "ok", "ok", "ins"] * 2  # truth, then pred row
    doc = Elements(diff_html("Haus", "Hans"))
    assert [a["class"] for a in doc.find("td")] == ["ok", "ok", "sub", "ok"] * 2


def test_page_shows_metrics_writers_confusions_bad_rows_and_worst_words() -> None:
    results = [word("Haus", "Hans", "w1"), word("Köln", "Koln", "w2"), word("ok", "ok", "w2"),
               word("<b>", "b", "w1")]
    page = PageInput(title="t", results=results, tokens=["", "a", "b", "c"], metrics={"test/cer": 0.25},
                     skipped=["test: labels.csv:7: /d/x.png: file not found"], num_worst=2)
    html = render_page(page)
    doc = Elements(html)
    tables = [a.get("class") for a in doc.find("table") if a.get("class") != "diff"]
    assert tables == ["metrics", "writers", "confusions", "kinds", "skipped", "gallery"]
    assert len(doc.find("img")) == 2  # num_worst of the 3 wrong words
    text = "".join(doc.text)
    assert "25.00 %" in text and "file not found" in text and "labels.csv:7: /d/x.png" in text
    assert "&lt;b&gt;" in html and "<b>" in text  # a label is text, never markup
    kinds = html[html.index('class="kinds"'):]
    kinds = kinds[:kinds.index("</table>")]
    # Hans for Haus: a letter; Koln for Köln: a diacritic; b for <b>: two separators (of 4 edits in 13 characters)
    for row in ("<td>diacritic</td><td>1</td><td>25.0 %</td>", "<td>letter</td><td>1</td><td>25.0 %</td>",
                "<td>separator</td><td>2</td><td>50.0 %</td><td>15.38 %</td>"):
        assert row in kinds
    assert "<td>case</td>" not in kinds  # kinds without an edit are left out


# ------------------------------------------------------------------------------------ htr_lit.inspect


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint, tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, labels.csv with 3 writers x 10 words + a missing and an empty image). The tiny BiLSTM reads
    badly, so the page has worst rows to show."""
    root = tmp_path_factory.mktemp("inspect")
    ckpt = tiny_checkpoint("bilstm")
    labels = write_writer_labels(root / "data", height=32)
    (root / "data/w1/empty.png").write_bytes(b"")
    with labels.open("a", encoding="utf-8") as f:
        f.write("w0/missing.png,Haus,w0\nw1/empty.png,Köln,w1\n")
    return ckpt, labels


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_inspect_scores_like_eval_and_lists_bad_rows(tiny, tmp_path, decoder) -> None:
    ckpt, labels = tiny
    common = [f"ckpt_path={ckpt}", f"test_csv={labels}", f"decoder={decoder}"]
    metrics = inspect(compose_cfg("inspect", [*common, "num_worst=5"], tmp_path))
    evaluated = evaluate(compose_cfg("eval", [*common, "data.on_error=skip", "data.num_workers=0",
                                              "+trainer.enable_progress_bar=false"], tmp_path / "eval"))
    assert metrics["decoder"] == evaluated["decoder"] == decoder
    assert metrics["images"] == 30 and metrics["data/skipped"] == evaluated["data/skipped"] == 2
    for key in ("test/cer", "test/wer", "test/word_acc"):
        assert metrics[key] == pytest.approx(evaluated[key], abs=1e-6)
    doc = Elements((tmp_path / "inspect.html").read_text(encoding="utf-8"))
    text = "".join(doc.text)
    assert "missing.png: file not found" in text and "empty.png: empty file (0 bytes)" in text
    wrong = round(30 * (1 - metrics["test/word_acc"]))
    assert len(doc.find("div", "word")) == min(5, wrong) + 30  # the worst words, then the 30 least confident
    assert len(doc.find("table", "writers")) == 1 and "w2" in text
    for table in ("coverage", "writer-confidence", "least-confident"):
        assert len(doc.find("table", table)) == 1
    kind = "raw: exp of the greedy path's log-probability" if decoder == "greedy" else "P(text | image) under CTC"
    assert kind in text  # the tiny checkpoint carries no calibration; another decoder's reading: the CTC one


def test_acceptance_rows_by_hand() -> None:
    conf = [0.9, 0.2, 0.8, 0.5, 0.1, 0.7, 0.6, 0.3, 0.4, 0.95]
    right = [True, False, True, False, False, True, True, True, False, True]
    rows = acceptance_rows(conf, right)
    assert rows[0] == (0.1, 0.95, 1.0)  # the most confident word alone: right
    assert rows[4] == (0.5, 0.6, 1.0)  # 0.95, 0.9, 0.8, 0.7, 0.6: all right
    assert rows[5] == (0.6, 0.5, pytest.approx(5 / 6))  # + 0.5, wrong
    assert rows[-1] == (1.0, 0.1, pytest.approx(0.6))


def test_a_swapped_label_is_listed_on_the_page(tiny_checkpoint, tmp_path) -> None:
    """The tiny dilated model reads its ten words right: two labels swapped within a writer are flagged as shifted,
    each with the label it fits."""
    labels = write_writer_labels(tmp_path / "data", height=32)
    lines = labels.read_text(encoding="utf-8").splitlines()
    first, second = lines[1].split(","), lines[2].split(",")  # w0's Haus and Straße
    lines[1], lines[2] = f"{first[0]},{second[1]},w0", f"{second[0]},{first[1]},w0"
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inspect(compose_cfg("inspect", [f"ckpt_path={tiny_checkpoint()}", f"test_csv={labels}"], tmp_path))
    doc = Elements((tmp_path / "inspect.html").read_text(encoding="utf-8"))
    text = "".join(doc.text)
    assert "Likely wrong labels (2 of 30 rows flagged" in text
    assert len(doc.find("table", "flagged")) == 1 and text.count("shifted") >= 2


def test_page_is_written_when_no_row_can_be_read(tiny, tmp_path) -> None:
    ckpt, _ = tiny
    (tmp_path / "labels.csv").write_text("file_name,text\nnope.png,Haus\n../up.png,Nord\n", encoding="utf-8")
    metrics = inspect(compose_cfg("inspect", [f"ckpt_path={ckpt}", f"test_csv={tmp_path / 'labels.csv'}"], tmp_path))
    assert metrics["images"] == 0 and metrics["data/skipped"] == 2 and "test/cer" not in metrics
    text = "".join(Elements((tmp_path / "inspect.html").read_text(encoding="utf-8")).text)
    assert "nope.png: file not found" in text and "points outside the dataset folder" in text
    assert "no image could be scored" in text


def test_inspect_config_defaults_and_sample() -> None:
    cfg = compose_cfg("inspect")
    assert Path(cfg.ckpt_path).is_file() and cfg.ckpt_path.endswith("models/recognizer_separable.ckpt")
    assert cfg.data.on_error == "skip" and cfg.decoder._target_.endswith("greedy")
    assert pick(5, None, 0) == [0, 1, 2, 3, 4] and pick(5, 9, 0) == [0, 1, 2, 3, 4]
    sample = pick(1000, 10, 42)
    assert len(set(sample)) == 10 and sample == sorted(sample) and sample == pick(1000, 10, 42)


# ------------------------------------------------------------------------------------ headless Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: the sandbox refuses to run as root (containers, CI); the page is our own local file.
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless browser test: chromium is not installed "
                    "(Debian: apt-get install chromium, or scripts/install_system_deps.sh --dev)")
def test_page_renders_in_headless_chromium(tiny, tmp_path) -> None:
    ckpt, labels = tiny  # through the real CLI, as `make inspect` runs it
    proc = run_cli("htr_lit.inspect", f"ckpt_path={ckpt}", f"test_csv={labels}", "num_worst=6",
                   "num_least_confident=4", "num_flagged=3", f"hydra.run.dir={tmp_path}")
    assert f"-> {tmp_path / 'inspect.html'}" in proc.stdout and "2 bad rows" in proc.stdout
    url = (tmp_path / "inspect.html").as_uri()
    # The DOM after load: the page's script counts the <img> that really decoded (naturalWidth > 0).
    dom = Elements(chromium("--virtual-time-budget=5000", "--dump-dom", url).stdout)
    body = dom.find("body")[0]
    # 6 worst words, 4 least confident, 3 likely wrong labels (the tiny BiLSTM misreads most words: more are flagged)
    assert body.get("data-images-total") == "13" and body.get("data-images-loaded") == "13"
    assert len(dom.find("table", "gallery")) == 1 and len(dom.find("table", "skipped")) == 1
    assert len(dom.find("b")) > 0  # frame-strip characters
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,1400", url)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)  # (1400, 1200, 3)
    assert pixels.shape == (1400, 1200, 3)
    ink = (pixels.sum(axis=2) < 3 * 235).mean()
    assert ink > 0.02, f"the screenshot is almost blank ({ink:.1%} non-background)"
    colours = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert (238, 238, 255) in colours  # table headers drawn with the page's style
    assert (221, 51, 51) in colours  # the per-writer CER bars
    rows_with_content = (pixels.sum(axis=2) < 3 * 235).any(axis=1)  # (1400,)
    assert rows_with_content[:300].any() and rows_with_content[700:].any()  # content down the page, not one blob
