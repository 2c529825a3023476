"""The sweep report on a synthetic multirun folder: grouping, mean ± std by hand, failures, CSV, plot."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from htr_lit.report import build_report, main
from htr_lit.sweep_results import config_labels, group_jobs, load_jobs

# (job number, overrides, status, test/cer, params, infer img/s)
JOBS = [
    (0, ["experiment=ablation/bilstm", "seed=1", "sweep=reproduce"], "ok", 0.10, 1_000_000, 100.0),
    (1, ["experiment=ablation/bilstm", "seed=2", "sweep=reproduce"], "ok", 0.14, 1_000_000, 120.0),
    (2, ["experiment=ablation/bilstm", "seed=3", "sweep=reproduce"], "ok", 0.12, 1_000_000, 110.0),
    (3, ["experiment=ablation/dilated", "seed=1", "sweep=reproduce"], "ok", 0.20, 750_000, 300.0),
    (4, ["experiment=ablation/dilated", "seed=2", "sweep=reproduce"], "failed", None, None, None),
    (5, ["experiment=ablation/dilated", "seed=3", "sweep=reproduce"], "ok", 0.30, 750_000, 340.0),
    (10, ["experiment=ablation/none", "seed=1", "sweep=reproduce"], "running", None, None, None),
]


def make_sweep(root: Path) -> Path:
    """A multirun folder as Hydra + htr_lit.train leave it: <n>/metrics.json, <n>/.hydra/overrides.yaml."""
    for num, overrides, status, cer, params, infer in JOBS:
        job = root / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        record: dict = {"status": status, "overrides": overrides}
        if status == "ok":
            record.update({"test/cer": cer, "test/wer": 2 * cer, "val/cer": cer, "params": params,
                           "time/train_s": 270.0, "throughput/train_img_s": 20.0, "throughput/infer_img_s": infer,
                           "throughput/seq_infer_img_s": 4 * infer})
        if status == "failed":
            record["error"] = "ValueError: dilated: num_blocks must be >= 1, got 0\nsecond line"
        (job / "metrics.json").write_text(json.dumps(record))
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def test_jobs_load_in_numeric_order_with_status(tmp_path):
    jobs = load_jobs(make_sweep(tmp_path))
    assert [j.path.name for j in jobs] == ["0", "1", "2", "3", "4", "5", "10"]  # 10 after 5, not after 1
    assert [j.status for j in jobs] == ["ok", "ok", "ok", "ok", "failed", "ok", "running"]


def test_labels_keep_only_varying_overrides_and_drop_the_common_prefix(tmp_path):
    jobs = load_jobs(make_sweep(tmp_path))
    assert config_labels(jobs) == ["bilstm"] * 3 + ["dilated"] * 3 + ["none"]


def test_labels_with_two_varying_keys_name_them():
    from htr_lit.sweep_results import Job

    jobs = [Job(Path(str(i)), "ok", [f"model.sequence.num_blocks={b}", f"model.sequence.concat={c}", f"seed={s}"], {})
            for i, (b, c, s) in enumerate([(1, "all", 1), (2, "all", 2), (1, "last", 1)])]
    assert config_labels(jobs) == ["concat=all num_blocks=1", "concat=all num_blocks=2", "concat=last num_blocks=1"]


def test_mean_and_sample_std_over_seeds_match_hand_computation(tmp_path):
    groups = {g.label: g for g in group_jobs(load_jobs(make_sweep(tmp_path)))}
    assert list(groups) == ["bilstm", "dilated", "none"]  # the sweep's order
    mean, std = groups["bilstm"].mean_std("test/cer")
    assert mean == pytest.approx(0.12)
    assert std == pytest.approx(0.02)  # sqrt(((-.02)^2 + .02^2 + 0) / (3 - 1))
    mean, std = groups["dilated"].mean_std("test/cer")  # the failed seed is left out
    assert (mean, std) == (pytest.approx(0.25), pytest.approx(math.sqrt(0.005)))
    assert len(groups["dilated"].ok) == 2 and len(groups["dilated"].not_ok) == 1
    assert math.isnan(groups["none"].mean_std("test/cer")[0])


def test_report_writes_table_csv_plot_and_lists_failed_jobs(tmp_path):
    sweep = make_sweep(tmp_path / "sweep")
    md = build_report(sweep, tmp_path / "out", name="results", preamble="## Protocol\n\nequal budget", baseline="bilstm")
    text = md.read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "12.00 ± 2.00" in rows["bilstm"] and "25.00 ± 7.07" in rows["dilated"]  # test CER in %
    assert "| 3 | 0 |" in rows["bilstm"] and "| 2 | 1 |" in rows["dilated"]  # seeds ok, failed
    assert "1.000" in rows["bilstm"] and "0.750" in rows["dilated"]  # params (M)
    assert rows["dilated"].count("2.91x") == 2  # infer speed vs bilstm: 320 / 110, after the CNN: 1280 / 440
    assert "+13.00 pt (+6.5 std)" in rows["dilated"]  # (25 - 12) / 2
    assert text.index("## Protocol") < text.index("## Results")
    failed = text[text.index("## Failed"):]
    assert "`4` (failed)" in failed and "num_blocks must be >= 1" in failed and "second line" not in failed
    assert "`10` (running)" in failed and "2 of 7 jobs" in failed
    assert (tmp_path / "out" / "results.png").stat().st_size > 1000

    with (tmp_path / "out" / "results.csv").open() as f:
        table = {r["configuration"]: r for r in csv.DictReader(f)}
    assert float(table["bilstm"]["test_cer_mean"]) == pytest.approx(0.12)
    assert float(table["dilated"]["infer_img_s_std"]) == pytest.approx(math.sqrt(800))  # 300, 340
    assert table["dilated"]["n_failed"] == "1" and table["none"]["test_cer_mean"] == ""


def test_cli_writes_into_the_sweep_folder_and_rejects_an_empty_one(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep")
    assert main([str(sweep), "--no-plot"]) == 0
    assert (sweep / "report.md").is_file() and (sweep / "report.csv").is_file()
    assert not (sweep / "report.png").exists()
    assert "bilstm" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2


def test_splice_results_replaces_only_the_ablation_block():
    from sweeps.splice_results import BEGIN, END, splice

    first = splice("# table v1", "# Results\n\nDecoders table\n")
    assert first.startswith("# Results\n\nDecoders table\n") and f"{BEGIN}\n# table v1\n{END}" in first
    second = splice("# table v2", first + "\nafter\n")
    assert "table v1" not in second and "# table v2" in second
    assert second.startswith("# Results\n\nDecoders table\n") and second.rstrip().endswith("after")
