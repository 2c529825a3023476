"""The sweep report on a synthetic multirun folder: grouping, mean ± std by hand, failures, CSV, plot."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from htr_lit.results.report import build_report, main
from htr_lit.results.splice_results import markers, splice
from htr_lit.results.sweep_results import config_labels, group_jobs, load_jobs

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
    from htr_lit.results.sweep_results import Job

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
    md = build_report(
        sweep, tmp_path / "out", name="results", preamble="## Protocol\n\nequal budget", baseline="bilstm"
    )
    text = md.read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "12.00 ± 2.00" in rows["bilstm"] and "25.00 ± 7.07" in rows["dilated"]  # test CER in %
    assert "| 3 | 0 |" in rows["bilstm"] and "| 2 | 1 |" in rows["dilated"]  # seeds ok, failed
    assert "1.000" in rows["bilstm"] and "0.750" in rows["dilated"]  # params (M)
    assert rows["dilated"].count("2.91x") == 2  # infer speed vs bilstm: 320 / 110, after the CNN: 1280 / 440
    assert "+13.00 pt (+6.5 std)" in rows["dilated"]  # (25 - 12) / 2
    assert text.index("## Protocol") < text.index("## Results")
    failed = text[text.index("## Failed") :]
    assert "`4` (failed)" in failed and "num_blocks must be >= 1" in failed and "second line" not in failed
    assert "`10` (running)" in failed and "2 of 7 jobs" in failed
    assert (tmp_path / "out" / "results.png").stat().st_size > 1000

    with (tmp_path / "out" / "results.csv").open() as f:
        table = {r["configuration"]: r for r in csv.DictReader(f)}
    assert float(table["bilstm"]["test_cer_mean"]) == pytest.approx(0.12)
    assert float(table["dilated"]["infer_img_s_std"]) == pytest.approx(math.sqrt(800))  # 300, 340
    assert table["dilated"]["n_failed"] == "1" and table["none"]["test_cer_mean"] == ""


def add_curves(sweep: Path) -> None:
    """Validation curves for the ok jobs: bilstm seeds 1-3 (epoch 2 validated twice, mid-epoch and at its
    end: the last counts), dilated seeds 1 and 3 (seed 3 stopped after epoch 1)."""
    curves = {
        0: [(1, 0.8), (2, 0.5), (2, 0.4)],
        1: [(1, 0.6), (2, 0.2)],
        2: [(1, 0.7), (2, 0.3)],
        3: [(1, 0.3), (2, 0.1)],
        5: [(1, 0.5)],
    }
    for num, points in curves.items():
        record = json.loads((sweep / str(num) / "metrics.json").read_text())
        record["curve/val"] = [{"epoch": e, "step": 10 * i, "val/cer": c} for i, (e, c) in enumerate(points)]
        (sweep / str(num) / "metrics.json").write_text(json.dumps(record))


def test_learning_curves_average_the_last_validation_of_each_epoch_over_seeds(tmp_path):
    sweep = make_sweep(tmp_path / "sweep")
    add_curves(sweep)
    groups = {g.label: g for g in group_jobs(load_jobs(sweep))}
    (e1, m1, s1, n1), (e2, m2, s2, n2) = groups["bilstm"].curve()
    assert (e1, n1, e2, n2) == (1, 3, 2, 3)
    assert m1 == pytest.approx(0.7) and s1 == pytest.approx(0.1)
    assert m2 == pytest.approx(0.3) and s2 == pytest.approx(0.1)  # 0.4 (not 0.5), 0.2, 0.3
    assert groups["dilated"].curve()[1][1:] == (pytest.approx(0.1), pytest.approx(math.nan, nan_ok=True), 1)
    assert groups["none"].curve() == []
    text = build_report(sweep, tmp_path / "out", name="r").read_text()
    curves = text[text.index("## Learning curves") : text.index("## Failed")]
    assert "| bilstm | 70.0 | 30.0 |" in curves and "| dilated | 40.0 | 10.0 |" in curves
    assert "| none | - | - |" in curves
    assert (tmp_path / "out" / "r_curves.png").stat().st_size > 1000


def test_no_curve_section_without_recorded_curves(tmp_path):
    text = build_report(make_sweep(tmp_path / "sweep"), tmp_path / "out", name="r").read_text()
    assert "## Learning curves" not in text and not (tmp_path / "out" / "r_curves.png").exists()


def test_cli_writes_into_the_sweep_folder_and_rejects_an_empty_one(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep")
    assert main([str(sweep), "--no-plot"]) == 0
    assert (sweep / "report.md").is_file() and (sweep / "report.csv").is_file()
    assert not (sweep / "report.png").exists()
    assert "bilstm" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2


def test_splice_results_replaces_only_its_own_block():
    begin, end = markers()
    assert begin == "<!-- ablation:begin (written by make reproduce) -->" and end == "<!-- ablation:end -->"
    first = splice("# table v1", "# Results\n\nDecoders table\n")
    assert first.startswith("# Results\n\nDecoders table\n") and f"{begin}\n## table v1\n{end}" in first
    second = splice("# table v2", first + "\nafter\n")
    assert "table v1" not in second and "# table v2" in second
    assert second.startswith("# Results\n\nDecoders table\n") and second.rstrip().endswith("after")
    assert "## table v2" in second  # headings one level down: the report nests under results.md's
    third = splice("# long v1", second, "ablation_long")  # another block is appended, the first one stays
    assert (
        "# table v2" in third
        and "<!-- ablation_long:begin" in third
        and third.rstrip().endswith("<!-- ablation_long:end -->")
    )
    fourth = splice("# long v2", third, "ablation_long")
    assert "# long v1" not in fourth and "# long v2" in fourth and "# table v2" in fourth
