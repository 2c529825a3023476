"""The CV CER vs speed Pareto report on hand-made bench rows and `htr_lit.cv` summaries (nothing trains here):
the front, the goal and the verdict match a hand computation, only folds shared with the BiLSTM CRNN count,
configurations missing a side are listed, and the performance.md splice keeps the rest of the document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from htr_lit.cv import pareto, pareto_markdown
from htr_lit.cv.pareto_markdown import NAME, WRITER
from htr_lit.results import doc_block

BEGIN, END = doc_block.markers(NAME, WRITER)

WRITERS = {0: ["a", "b"], 1: ["c", "d"], 2: ["e", "f"], 3: ["g", "h"]}  # the test writers of each fold


def write_cv(cv_dir: Path, cers: dict[int, float], written: str = "2026-12-01T10:00:00Z") -> None:
    """A `cv_folds_*.json` as htr_lit.cv writes it (greedy), fold -> test CER, written at `written` (its field
    `written_utc`); the file time says the opposite, so a reader that trusted it would fail the tests."""
    records = [{"fold": i, "test_writers": WRITERS[i], "writers": {w: {"cer": c} for w in WRITERS[i]},
                "test/cer": c, "test/wer": 0.5, "test/word_acc": 0.5} for i, c in cers.items()]
    cv_dir.mkdir(parents=True, exist_ok=True)
    path = cv_dir / ("cv_folds_" + "_".join(map(str, cers)) + ".json")
    path.write_text(json.dumps({"experiment": cv_dir.name, "overrides": [f"experiment={cv_dir.name}"],
                                "decoder": "greedy", "written_utc": written, "folds": records}))
    stamp = 3_000_000_000 - int(written[:4] + written[5:7] + written[8:10])  # later written: older file time
    os.utime(path, (stamp, stamp))


def row(sequence: str, infer: float, train: float, encoder: str = "", **kw) -> dict:
    """A bench row (performance.json "models"); `encoder` as `--encoders` writes it into the overrides."""
    return {"sequence": sequence, "overrides": [f"model/encoder={encoder}"] if encoder else [], "device": "cpu",
            "precision": "32-true", "params": 1000, "infer_img_s_b64": infer, "train_img_s": train, **kw}


# BiLSTM CRNN: CER 10, 12, 14 % on folds 0-2 (mean 12), 100 img/s inference, 50 training. Hand-computed:
#   compact+dilated     15 %, 90 img/s           slower and worse: dominated by the BiLSTM, off the front
#   separable+bilstm    11 %, 250 img/s (x2.5), train x1.6          on the front, meets the goal
#   compact+cnn_only    22 %, 400 img/s (x4)     fast but worse:   on the front (fastest), misses the goal
#   separable+dilated   folds 0, 1 shared (fold 3 is not the BiLSTM's): 9.5 % vs the BiLSTM's 11 % there,
#                       180 img/s (x1.8)         on the front (most accurate), misses the 2x
# The BiLSTM itself (100, 12 %) is dominated by separable+bilstm (250, 11 %).
PERF = {
    "quick": False,
    "machine": {"cpu": "Test CPU", "torch_threads": 2, "date_utc": "2026-01-01 00:00"},
    "models": [
        row("bilstm", 100.0, 50.0),
        row("dilated", 90.0, 40.0),
        row("none", 400.0, 200.0),  # the CNN-only control under its old option name
        row("tcn", 120.0, 60.0),  # no cv folder: not measured yet (CV)
        row("bilstm", 250.0, 80.0, "separable"),
        row("dilated", 180.0, 100.0, "separable"),
        row("bilstm", 9999.0, 9999.0, device="cuda"),  # another device: ignored
        row("dilated", 9999.0, 9999.0, overrides=["size=tiny"]),  # a variant: left out
    ],
}


@pytest.fixture
def cv_root(tmp_path: Path) -> Path:
    root = tmp_path / "cv"
    write_cv(root / "crnn_dhsd", {0: 0.10, 1: 0.12, 2: 0.14})
    write_cv(root / "dilated_dhsd", {0: 0.13, 1: 0.15, 2: 0.17})
    write_cv(root / "separable_bilstm", {0: 0.08, 1: 0.11, 2: 0.14})
    write_cv(root / "ablation_cnn_only", {0: 0.20, 1: 0.22, 2: 0.24})
    # fold 0 twice: the table written later wins, although its name (cv_folds_0_1) sorts first
    write_cv(root / "separable_dilated", {0: 0.09, 1: 0.10}, written="2026-12-02T10:00:00Z")
    write_cv(root / "separable_dilated", {0: 0.30, 3: 0.50}, written="2026-12-01T10:00:00Z")
    write_cv(root / "separable_cnn_only", {2: 0.40})  # cv only, and speed missing
    return root


def analyse(cv_root: Path, perf: dict = PERF, extra: tuple[str, ...] = ()) -> dict:
    return pareto.analyse(perf, pareto.cv_dirs(cv_root, extra))


def test_front_is_every_point_no_other_beats_on_both():
    points = {"a": (100.0, 0.12), "b": (90.0, 0.15), "c": (250.0, 0.11), "d": (400.0, 0.22), "e": (250.0, 0.11)}
    assert pareto.pareto_front(points) == ["c", "e", "d"]  # equal points do not dominate each other
    assert pareto.pareto_front({"x": (1.0, 0.5)}) == ["x"]


def test_front_goal_and_ratios_match_the_hand_computation(cv_root):
    result = analyse(cv_root)
    rows = result["configs"]
    assert result["front"] == ["separable+dilated", "separable+bilstm", "compact+cnn_only"]
    assert result["meets_goal"] == ["separable+bilstm"]
    sep = rows["separable+bilstm"]
    assert sep["cer"]["mean"] == pytest.approx(0.11) and sep["cer"]["std"] == pytest.approx(0.03)
    assert sep["cer_gap"] == pytest.approx(-0.01)
    assert sep["infer_ratio"] == pytest.approx(2.5) and sep["train_ratio"] == pytest.approx(1.6)
    assert rows["compact+cnn_only"]["infer_ratio"] == pytest.approx(4.0)  # bench's "none" is cnn_only
    assert not rows["compact+cnn_only"]["meets_goal"] and not rows["compact+dilated"]["on_front"]
    assert not rows["compact+bilstm"]["on_front"] and rows["compact+bilstm"]["cer_gap"] == 0
    assert result["verdict"] == ("separable+bilstm (CER 11.00 % vs 12.00 % over folds 0, 1, 2, inference x2.50, "
                                 "training x1.60) meets the goal.")


def test_only_folds_shared_with_the_bilstm_count_and_the_table_written_last_wins(cv_root):
    r = analyse(cv_root)["configs"]["separable+dilated"]
    assert r["folds_done"] == [0, 1, 3] and r["folds"] == [0, 1]  # fold 3: the BiLSTM has none
    assert r["cer"]["per_fold"] == {0: pytest.approx(0.09), 1: pytest.approx(0.10)}
    assert r["cer"]["mean"] == pytest.approx(0.095)  # fold 0 from the table written later, not 0.30; fold 3 unused
    assert r["baseline_cer"] == pytest.approx(0.11)  # the BiLSTM over folds 0 and 1 only


def test_missing_sides_are_listed_and_left_out(cv_root):
    result = analyse(cv_root, extra=("vgg+bilstm=vgg_bilstm",))
    rows = result["configs"]
    assert rows["compact+tcn"]["missing"] == "not measured yet (CV)"  # a bench row, no cv folder
    assert rows["separable+cnn_only"]["missing"] == "not measured yet (speed)"  # cv folds, no bench row
    assert rows["vgg+bilstm"]["missing"] == "not measured yet (speed, CV)"
    for name in ("compact+tcn", "separable+cnn_only", "vgg+bilstm"):
        assert name not in result["front"] and not rows[name]["meets_goal"]
    assert result["speed_run"]["skipped_rows"] == ["dilated size=tiny"]
    table = pareto_markdown.table(rows)
    assert any(line.startswith("| compact+tcn | not measured yet (CV) |") and "| 120.0 | x1.20 |" in line
               for line in table)
    assert any(line.startswith("| vgg+bilstm | not measured yet (speed, CV) |") for line in table)


def test_an_override_every_bench_row_ran_with_is_a_setting_of_the_run_not_a_variant():
    rows = [row("bilstm", 100.0, 50.0, overrides=["size=tiny"]),
            row("dilated", 90.0, 40.0, overrides=["model/encoder=separable", "size=tiny"]),
            row("tcn", 80.0, 40.0, overrides=["size=tiny", "model.sequence.dims=1d"])]
    speeds, common, skipped = pareto.speed_rows({"models": rows})
    assert sorted(c.name for c in speeds) == ["compact+bilstm", "separable+dilated"]
    assert common == ["size=tiny"] and skipped == ["tcn size=tiny model.sequence.dims=1d"]


def test_fold_with_other_writers_or_no_shared_fold_is_not_compared(tmp_path):
    root = tmp_path / "cv"
    write_cv(root / "crnn_dhsd", {0: 0.10})
    write_cv(root / "dilated_dhsd", {1: 0.10})
    write_cv(root / "elsewhere", {0: 0.10})
    records = json.loads((root / "elsewhere" / "cv_folds_0.json").read_text())
    records["folds"][0]["test_writers"] = ["zz"]
    (root / "elsewhere" / "cv_folds_0.json").write_text(json.dumps(records))
    rows = analyse(root, extra=("separable+tcn=elsewhere",))["configs"]
    assert rows["compact+dilated"]["missing"] == "no fold in common with the BiLSTM CRNN (folds 1 vs 0)"
    other = rows["separable+tcn"]["missing"]
    assert other.startswith("not measured yet (speed); fold 0 tests writers") and "not the same folds" in other


def test_verdict_without_a_winner_names_the_fastest_at_equal_cer_and_the_best_at_2x(cv_root):
    perf = {**PERF, "models": [r for r in PERF["models"] if "model/encoder=separable" not in r["overrides"]
                               or r["sequence"] != "bilstm"]}
    result = analyse(cv_root, perf)
    assert result["meets_goal"] == [] and result["configs"]["separable+bilstm"]["missing"] == "not measured yet (speed)"
    assert result["verdict"] == (
        "None does: the fastest at the BiLSTM CRNN's CER or below is separable+dilated (CER 9.50 % vs 11.00 % over "
        "folds 0, 1, inference x1.80, training x2.00)"
        "; the most accurate at 2x inference or more is compact+cnn_only (CER 22.00 % vs 12.00 % over folds 0, 1, 2, "
        "inference x4.00, training x4.00), +10.00 points of CER against the BiLSTM CRNN "
        "(goal: x2 inference and x1.5 training)."
    )


def test_without_the_bilstm_speed_nothing_is_judged(cv_root):
    perf = {**PERF, "models": [r for r in PERF["models"] if r["sequence"] != "bilstm" or r["overrides"]]}
    result = analyse(cv_root, perf)
    assert result["verdict"] == ("The goal cannot be judged yet: the BiLSTM CRNN (compact+bilstm) is not measured "
                                 "yet (speed).")
    assert result["meets_goal"] == [] and "infer_ratio" not in result["configs"]["separable+bilstm"]
    assert result["front"] == ["separable+dilated", "separable+bilstm", "compact+cnn_only"]  # still drawn


def test_table_says_front_and_goal_fastest_first(cv_root):
    table = pareto_markdown.table(analyse(cv_root)["configs"])
    names = [line.split(" | ")[0].removeprefix("| ") for line in table[2:]]
    assert names[:5] == ["compact+cnn_only", "separable+bilstm", "separable+dilated", "compact+bilstm",
                         "compact+dilated"]
    sep = table[3]
    assert sep == ("| separable+bilstm | 0, 1, 2 | 11.00 ± 3.00 | -1.00 | 250.0 | x2.50 | 80.0 | x1.60 | 1,000 "
                   "| yes | yes |")


def test_cli_writes_png_json_and_splices_performance_md(cv_root, tmp_path):
    out, perf = tmp_path / "docs", tmp_path / "performance.json"
    perf.write_text(json.dumps(PERF))
    out.mkdir()
    head = "# Performance\n\nThe bench table.\n"
    tail = "<!-- bench_length:begin (x) -->\nlength\n<!-- bench_length:end -->\n"
    (out / "performance.md").write_text(head + "\n" + BEGIN + "\nan old pareto section\n" + END + "\n\n" + tail)
    args = ["--cv-root", str(cv_root), "--perf", str(perf), "--out", str(out)]
    assert pareto.main(args) == 0
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "pareto.json").read_text())
    assert data["front"] == ["separable+dilated", "separable+bilstm", "compact+cnn_only"]
    md = (out / "performance.md").read_text()
    assert md.startswith(head) and md.endswith(tail) and "an old pareto section" not in md
    assert md.count(BEGIN) == 1 and "![CV CER vs inference img/s](pareto.png)" in md
    assert data["verdict"] in md
    pareto.main(args)  # again: one block, the rest untouched
    assert (out / "performance.md").read_text() == md


def test_map_must_name_encoder_and_sequence(tmp_path):
    with pytest.raises(SystemExit, match="ENCODER\\+SEQUENCE"):
        pareto.main(["--cv-root", str(tmp_path), "--perf", str(tmp_path / "none.json"), "--out", str(tmp_path),
                     "--map", "bilstm=somewhere"])
