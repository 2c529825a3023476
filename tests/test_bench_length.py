"""The speed-against-length benchmark: its receptive-field figures (hand-computed and measured), its
report's wording and document splicing, and a smoke run of the whole command (no timing assertions)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from htr_lit.measuring import bench_length
from htr_lit.measuring.bench_length_report import NAME, WRITER, crossovers
from htr_lit.models.receptive_field import empirical_rf_frames, line_coverage
from htr_lit.models.sequence.bilstm import BiLSTM
from htr_lit.models.sequence.collapse import CollapseHeight
from htr_lit.models.sequence.dilated import DilatedConv
from htr_lit.results import doc_block

BEGIN, END = doc_block.markers(NAME, WRITER)


def splice(section: str, document: str) -> str:
    return doc_block.splice(section, document, NAME, WRITER)


def positive_(model: nn.Module) -> nn.Module:
    """Positive weights on positive inputs keep every ReLU open: a gradient wherever an input can act."""
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.1, 1.0)
    return model.eval()


@pytest.mark.parametrize("rf, frames, expected", [
    (None, 7, 1.0),  # BiLSTM: the whole line
    (1, 5, 1 / 5),  # each frame sees itself
    (3, 4, (2 + 3 + 3 + 2) / 16),  # windows cut at both ends
    (5, 4, (3 + 4 + 4 + 3) / 16),
    (7, 4, 1.0),  # 2T - 1: every frame sees every other one
    (29, 32, sum(min(t + 14, 31) - max(t - 14, 0) + 1 for t in range(32)) / 32**2),
])
def test_line_coverage_by_hand(rf, frames, expected):
    assert line_coverage(rf, frames) == pytest.approx(expected)


def test_measured_receptive_field_is_the_analytic_one_cut_at_the_line():
    dilated = positive_(DilatedConv(in_channels=3, in_height=2, channels=4, norm="none"))  # RF 1 + 2*2*7 = 29
    assert dilated.receptive_field_frames() == 29
    assert empirical_rf_frames(dilated, torch.rand(1, 3, 2, 61)) == 29
    assert empirical_rf_frames(dilated, torch.rand(1, 3, 2, 20)) == 20  # the line is shorter than the RF
    assert empirical_rf_frames(CollapseHeight(3, 2), torch.rand(1, 3, 2, 20)) == 1
    lstm = BiLSTM(3, 2, hidden_size=4)
    assert empirical_rf_frames(lstm, torch.rand(1, 3, 2, 50)) == 50 and lstm.training  # mode restored


def test_batches_hold_a_constant_number_of_pixels():
    s = bench_length.LengthSettings()
    assert [s.batches(w) for w in (128, 256, 512, 1024, 2048)] == [(32, 128), (16, 64), (8, 32), (4, 16), (2, 8)]
    assert s.batches(8192) == (1, 2)


def test_crossovers_name_where_the_dilated_model_overtakes_the_bilstm():
    rows = [{"sequence": n, "width": w, "img_s": v, "ms": 100 / v}
            for n, vals in (("bilstm", (10, 10, 10)), ("dilated", (12, 9, 8))) for w, v in zip((128, 256, 512), vals)]
    assert crossovers(rows, "img_s") == "faster from 128 px, slower from 256 px"
    assert crossovers(rows, "ms", higher_is_better=False) == "faster from 128 px, slower from 256 px"
    assert crossovers([r for r in rows if r["width"] > 128], "img_s") == "slower at every width (256-512 px)"
    assert crossovers([r for r in rows if r["sequence"] == "bilstm"], "img_s") == "n/a"


def test_the_section_replaces_its_block_and_keeps_the_rest_of_the_document():
    doc = "# Performance\n\ntable\n"
    once = splice("## Length\nv1", doc)
    assert once.startswith(doc) and once.rstrip().endswith(END) and "v1" in once
    twice = splice("## Length\nv2", once + "\n## Later section\n")
    assert "v1" not in twice and "v2" in twice and twice.endswith("## Later section\n") and twice.count(BEGIN) == 1
    assert doc_block.kept(twice, NAME).strip() == f"{BEGIN}\n## Length\nv2\n{END}" and doc_block.kept(doc, NAME) == ""


def test_make_bench_keeps_the_length_section(tmp_path):
    """bench_markdown rewrites performance.md from its own report; the length block is carried over."""
    from htr_lit.measuring import bench_markdown

    (tmp_path / "performance.md").write_text(splice("## Length\nkept", "# old\n"))
    report = json.loads((bench_length.project_root() / "docs" / "performance.json").read_text())
    bench_markdown.write(report, tmp_path)
    text = (tmp_path / "performance.md").read_text()
    assert text.startswith("# Performance") and "# old" not in text and text.count("kept") == 1


def test_smoke_run_writes_json_figure_and_section(tmp_path, capsys):
    doc = tmp_path / "perf.md"
    doc.write_text("# Performance\n\nkept\n")
    assert bench_length.main(["--smoke", "--out", str(tmp_path), "--doc", str(doc), "--note", "Shared CPU."]) == 0
    report = json.loads((tmp_path / "performance_length.json").read_text())
    rows = {(r["sequence"], r["width"]): r for r in report["rows"]}
    assert set(rows) == {(s, w) for s in ("bilstm", "dilated") for w in (64, 128)} and report["smoke"]
    for r in rows.values():
        assert r["frames"] == r["width"] // 4
        for key in ("train_img_s", "infer_img_s", "latency_ms_b1", "seq_train_img_s", "seq_infer_img_s"):
            assert r[key] > 0, key
    assert rows[("dilated", 128)]["rf_frames"] == 29 and rows[("bilstm", 128)]["rf_frames"] is None
    assert rows[("bilstm", 128)]["rf_frames_measured"] == 32  # the whole line
    assert rows[("dilated", 64)]["rf_frames_measured"] == 16  # RF 29 > T = 16: cut at the ends
    assert (tmp_path / "performance_length.png").stat().st_size > 10_000
    text = doc.read_text()
    assert text.startswith("# Performance\n\nkept\n") and "| 128 | 32 | 29 / " in text
    assert "**Shared CPU.**" in text and "--smoke" in text
    assert "wrote" in capsys.readouterr().out
