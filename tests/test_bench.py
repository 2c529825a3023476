"""htr_lit.measuring.bench cannot rot: its per-model measurement runs on a tiny model (1 repeat, no timing
assertions), its FLOP count for LSTMs matches a hand count, its report files have the promised shape, and
its default output folder is the checkout's docs/."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from torch import nn

from htr_lit.config import project_root
from htr_lit.cv import pareto_markdown
from htr_lit.measuring import bench
from htr_lit.measuring.bench_markdown import write
from htr_lit.results import doc_block
from tests.helpers import TINY


def tiny():
    return bench.Settings(width=64, train_batch=2, infer_batch=2, warmup=0, repeats=1, train_iters=1, infer_iters=1,
                          latency_iters=1, overrides=list(TINY))


def test_lstm_flops_match_a_hand_count():
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(1, 5, 3)
    # per step and direction 2 FLOPs x 4 gates x hidden x (input + hidden): layer 1 in=3, layer 2 in=2*2
    expected = 2 * 5 * 2 * 4 * 2 * (3 + 2) + 2 * 5 * 2 * 4 * 2 * (4 + 2)
    assert bench.lstm_flops(lstm, lambda: lstm(x)) == expected


@pytest.mark.parametrize("sequence", ["bilstm", "dilated"])
def test_measure_runs_every_figure_on_a_tiny_model(sequence):
    s = tiny()
    row = bench.measure(sequence, "cpu", "32-true", s)
    model, _ = bench.build_model(sequence, s.overrides)
    assert row["params"] == sum(p.numel() for p in model.parameters())
    for key in ("train_img_s", "infer_img_s_b64", "latency_ms_b1", "flops_fwd_per_image", "train_gflop_s"):
        assert row[key] > 0, key
    assert row["flops_train_per_image"] > 2 * row["flops_fwd_per_image"]  # backward costs about 2 forwards
    assert len(row["train_img_s_runs"]) == 1 and row["sequence"] == sequence
    if sequence == "bilstm":
        assert bench.flops_per_image(model, s)["lstm_fwd"] > 0  # the LSTM is counted, not skipped


ROW = {"sequence": "", "device": "cpu", "precision": "32-true", "params": 1000, "flops_fwd_per_image": 2e8,
       "flops_train_per_image": 6e8, "train_img_s": 10.0, "train_gflop_s": 6.0, "infer_img_s_b64": 40.0,
       "latency_ms_b1": 5.0, "peak_mem_train_mb": 100.0}


def test_reports_have_one_row_per_model(tmp_path):
    row = dict(ROW)
    report = {"quick": True, "machine": {"cpu": "X", "cpu_count": 2, "torch_threads": 2, "torch": "2", "python": "3",
                                         "load_avg_1m_at_start": 0.1, "date_utc": "now"},
              "settings": vars(bench.Settings()), "matmul_gflops": {"cpu 32-true": 60.0},
              "models": [{**row, "sequence": "bilstm"}, {**row, "sequence": "dilated", "train_img_s": 20.0,
                                                         "infer_img_s_b64": 100.0}],
              "data_loader": [{"augment": "none", "num_workers": 2, "batch_size": 16, "img_s": 900.0,
                               "median_width": 200}]}
    write(report, tmp_path)
    data = json.loads((tmp_path / "performance.json").read_text())
    assert [m["sequence"] for m in data["models"]] == ["bilstm", "dilated"]
    assert data["models"][0]["matmul_fraction"] == pytest.approx(0.1)
    assert data["ratios"]["infer"] == pytest.approx(2.5) and data["ratios"]["train"] == pytest.approx(2.0)
    md = (tmp_path / "performance.md").read_text()
    assert md.count("| cpu | 32-true |") == 2 and "60.0 GFLOP/s" in md and "| none | 2 | 900.0 |" in md
    assert "median width is 200 px), encoder `compact`," in md


def test_ratio_compares_the_default_encoder_rows_even_when_other_encoders_follow(tmp_path):
    report = {"quick": True, "machine": {"cpu": "X", "cpu_count": 2, "torch_threads": 2, "torch": "2", "python": "3",
                                         "load_avg_1m_at_start": 0.1, "date_utc": "now"},
              "settings": vars(bench.Settings()), "matmul_gflops": {"cpu 32-true": 60.0}, "data_loader": [],
              "models": [{**ROW, "sequence": "bilstm"},
                         {**ROW, "sequence": "dilated", "infer_img_s_b64": 60.0, "train_img_s": 15.0},
                         {**ROW, "sequence": "bilstm", "overrides": ["model/encoder=separable"],
                          "infer_img_s_b64": 400.0, "train_img_s": 80.0},
                         {**ROW, "sequence": "dilated", "overrides": ["model/encoder=separable"],
                          "infer_img_s_b64": 300.0, "train_img_s": 50.0}]}
    write(report, tmp_path)
    ratios = json.loads((tmp_path / "performance.json").read_text())["ratios"]
    assert ratios["infer"] == pytest.approx(1.5) and ratios["train"] == pytest.approx(1.5)  # 60/40, 15/10
    named = [{**r, "overrides": r.get("overrides") or ["model/encoder=compact"]} for r in report["models"]]
    write({**report, "models": named}, tmp_path / "named")  # `--encoders compact,separable` names compact too
    assert json.loads((tmp_path / "named" / "performance.json").read_text())["ratios"]["infer"] == pytest.approx(1.5)
    md = (tmp_path / "performance.md").read_text()  # no loader measured: no median width, both encoders named
    assert "Input 64 x 256 px, encoder `compact`, `separable`, training batch" in md


def test_rewrite_keeps_the_pareto_block(tmp_path):
    """bench rewrites performance.md: the section htr_lit.cv.pareto spliced in must survive."""
    begin, end = doc_block.markers(pareto_markdown.NAME, pareto_markdown.WRITER)
    block = f"{begin}\n## The fastest model at equal accuracy\n{end}"
    (tmp_path / "performance.md").write_text("# Performance\n\nold table\n\n" + block + "\n")
    report = {"quick": True, "machine": {"cpu": "X", "cpu_count": 2, "torch_threads": 2, "torch": "2", "python": "3",
                                         "load_avg_1m_at_start": 0.1, "date_utc": "now"},
              "settings": vars(bench.Settings()), "matmul_gflops": {"cpu 32-true": 60.0}, "data_loader": [],
              "models": [{**ROW, "sequence": "bilstm"}]}
    write(report, tmp_path)
    md = (tmp_path / "performance.md").read_text()
    assert "old table" not in md and md.count(block) == 1


def test_encoders_option_measures_every_sequence_model_on_every_encoder(tmp_path, monkeypatch):
    """--encoders a,b: one worker per (encoder, sequence model), the encoder passed first as a model/encoder
    override, and the rows labelled with it."""
    real_run = subprocess.run

    def fake_run(cmd, **kw):
        if "--worker" not in cmd:  # platform's own calls (uname)
            return real_run(cmd, **kw)
        overrides = [c.split("=", 1)[1] for c in cmd if c.startswith("--override=")]
        row = {**ROW, "sequence": cmd[cmd.index("--worker") + 1], "overrides": overrides}
        return subprocess.CompletedProcess(cmd, 0, stdout=bench.RESULT_TAG + json.dumps(row) + "\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setattr(bench, "matmul_gflops", lambda *a, **k: 60.0)
    argv = ["--device", "cpu", "--encoders", "compact,separable", "--sequences", "bilstm,dilated", "--no-loader",
            "--override=model.head_dropout=0", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    rows = json.loads((tmp_path / "performance.json").read_text())["models"]
    assert [(r["sequence"], r["overrides"]) for r in rows] == [
        (seq, [f"model/encoder={enc}", "model.head_dropout=0"]) for enc in ("compact", "separable")
        for seq in ("bilstm", "dilated")
    ]
    assert "| bilstm model/encoder=separable model.head_dropout=0 | cpu |" in (tmp_path / "performance.md").read_text()


def test_default_output_is_the_checkouts_docs_folder():
    args = bench.parse_args(["--quick"])
    assert args.out == project_root() / "docs" and (args.out / "performance.md").is_file()


@pytest.mark.slow
def test_worker_subprocess_runs_the_module():
    """The driver measures each model in `python -m htr_lit.measuring.bench --worker ...` (a fresh process)."""
    args = bench.parse_args(["--quick", "--width", "64", "--threads", "1", *[f"--override={o}" for o in TINY]])
    row = bench.run_worker(args, "dilated", "cpu", "32-true")
    assert row["sequence"] == "dilated" and row["overrides"] == list(TINY) and row["train_img_s"] > 0
