"""The writer-fold ablation driver and report, on hand-made `htr_lit.cv` results (nothing trains here)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from htr_lit.config import shown_path
from htr_lit.cv import ablation as ablation_cv
from htr_lit.cv import ablation_report as ablation_cv_report
from htr_lit.cv.curves import mean_curve, read_val_curve

WRITERS = {0: ["a", "b"], 1: ["c", "d"], 2: ["e", "f"]}  # the test writers of folds 0, 1, 2


def write_cv(cv_dir: Path, folds: dict[int, tuple[float, float, float, list[float]]], params: int = 0) -> None:
    """`cv_folds_*.json` as cv.py writes it: fold -> (CER, WER, word acc, CER of each of its two writers)."""
    records = [
        {"fold": i, "test_writers": WRITERS[i], "val_writers": ["z"], "images": 20,
         "writers": {w: {"cer": c, "wer": 0.5, "images": 10} for w, c in zip(WRITERS[i], writer_cers)},
         "epochs": 10, "train_s": 2400.0 + 60 * i, "test/cer": cer, "test/wer": wer, "test/word_acc": acc}
        for i, (cer, wer, acc, writer_cers) in folds.items()
    ]
    cv_dir.mkdir(parents=True, exist_ok=True)
    name = "cv_folds_" + "_".join(map(str, folds)) + ".json"
    summary = {"experiment": cv_dir.name, "overrides": [f"experiment={cv_dir.name}"], "mode": "folds",
               "decoder": "greedy", "folds": records}
    (cv_dir / name).write_text(json.dumps(summary))
    for i in folds:
        if params:
            (cv_dir / f"fold_{i}").mkdir(exist_ok=True)
            (cv_dir / f"fold_{i}" / "metrics.json").write_text(json.dumps({"status": "ok", "params": params}))


def write_csv_log(fold_dir: Path, val_cers: list[float], first_epoch: int = 0) -> None:
    """A Lightning CSV log like fold_<i>/csv/metrics.csv: train rows and one validation row per epoch from
    `first_epoch` (counted from 0), then the rows htr_lit.train adds after fit (the best checkpoint validated
    and tested, logged as one more epoch); metrics.json gets status ok and the epochs trained."""
    rows = ["epoch,lr-AdamW,model/params,step,test/cer,train/loss,val/cer,val/loss,val/wer", ",,998005,0,,,,,"]
    for epoch, cer in enumerate(val_cers, start=first_epoch):
        rows += [f"{epoch},,,{100 * epoch + 50},,12.5,,,", f"{epoch},,,{100 * epoch + 99},,,{cer},3.0,0.5"]
    trained = first_epoch + len(val_cers)
    rows += [f"{trained},,,{100 * trained},,,{min(val_cers)},3.0,0.5", f"{trained},,,{100 * trained},0.2,,,,"]
    (fold_dir / "csv").mkdir(parents=True, exist_ok=True)
    (fold_dir / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")
    record_file = fold_dir / "metrics.json"
    record = json.loads(record_file.read_text()) if record_file.is_file() else {}
    record_file.write_text(json.dumps({**record, "status": "ok", "epochs": trained}))


@pytest.fixture
def no_plot(monkeypatch) -> None:
    """Skip the figure (matplotlib costs seconds) in the tests that do not look at it."""
    monkeypatch.setattr(ablation_cv_report, "plot_curves", lambda curves, path: False)


@pytest.fixture
def cv_root(tmp_path: Path) -> Path:
    """BiLSTM and dilated on folds 0-2, the TCN on folds 0-1 only, the CNN-only control not run."""
    root = tmp_path / "cv"
    write_cv(root / "crnn_dhsd", {0: (0.10, 0.30, 0.70, [0.08, 0.12]), 1: (0.12, 0.36, 0.64, [0.11, 0.13]),
                                  2: (0.14, 0.33, 0.67, [0.12, 0.16])}, params=998005)
    # 1, 1 and 3 points worse than the BiLSTM; writers 2, 0 | 1, 1 | 4, 2 points worse
    write_cv(root / "dilated_dhsd", {0: (0.11, 0.30, 0.70, [0.10, 0.12]), 1: (0.13, 0.36, 0.64, [0.12, 0.14]),
                                     2: (0.17, 0.33, 0.67, [0.16, 0.18])}, params=640000)
    # 1 and 2 points better
    write_cv(root / "ablation_tcn", {0: (0.09, 0.30, 0.70, [0.07, 0.11]), 1: (0.10, 0.36, 0.64, [0.09, 0.11])})
    write_csv_log(root / "crnn_dhsd" / "fold_0", [0.40, 0.20, 0.10])
    write_csv_log(root / "crnn_dhsd" / "fold_1", [0.50, 0.30])
    return root


def report(cv_root: Path, out: Path, *extra: str) -> dict:
    code = ablation_cv.main(["--report-only", "--configs", "bilstm,dilated,tcn,cnn_only", "--folds", "0,1,2",
                             "--cv-root", str(cv_root), "--out", str(out), *extra])
    assert code == 0
    return json.loads((out / "ablation_cv.json").read_text())


def test_report_per_configuration_by_hand(cv_root: Path, tmp_path: Path, no_plot: None) -> None:
    out = tmp_path / "docs"
    numbers = report(cv_root, out)
    md = (out / "ablation_cv.md").read_text()
    # BiLSTM CER 10, 12, 14: mean 12, sample std 2; WER 30, 36, 33: 33 ± 3; train 40, 41, 42 min -> 41
    assert "| bilstm | `crnn_dhsd` | 3 of 3 (0, 1, 2) | 12.00 ± 2.00 | 33.00 ± 3.00 | 67.00 ± 3.00 | 10, 10, 10 " \
           "| 998,005 | 41 |" in md
    # dilated CER 11, 13, 17: mean 13.67, std sqrt(((-8/3)² + (-2/3)² + (10/3)²) / 2) = 3.06
    assert "| dilated | `dilated_dhsd` | 3 of 3 (0, 1, 2) | 13.67 ± 3.06 |" in md
    assert "| tcn | `ablation/tcn` | 2 of 3 (0, 1) | 9.50 ± 0.71 |" in md  # 9, 10: std sqrt(0.5)
    assert "| cnn_only | `ablation/cnn_only` | not run yet |" in md
    assert numbers["configs"]["cnn_only"]["folds"] == []
    assert numbers["configs"]["bilstm"]["test/cer"]["mean"] == pytest.approx(0.12)
    assert numbers["configs"]["bilstm"]["test/cer"]["std"] == pytest.approx(0.02)


def test_report_pairs_every_configuration_with_the_bilstm(cv_root: Path, tmp_path: Path, no_plot: None) -> None:
    out = tmp_path / "docs"
    numbers = report(cv_root, out)
    md = (out / "ablation_cv.md").read_text()
    dilated = numbers["paired"]["dilated"]
    assert dilated["folds"]["mean_diff"] == pytest.approx(0.05 / 3)  # (1 + 1 + 3) / 3 points
    assert dilated["folds"]["sign_p"] == pytest.approx(0.25)  # 3 of 3 worse: 2 * 0.5^3
    assert dilated["folds"]["permutation_p"] == pytest.approx(0.25)  # only all-plus and all-minus reach |5|
    # writers 2, 0, 1, 1, 4, 2: 5 worse, 1 tie -> sign 2 / 32; flips reaching |10|: 2 (tie's sign) x 2 of 64
    assert dilated["writers"]["pairs"] == 6 and dilated["writers"]["sign_p"] == pytest.approx(0.0625)
    assert dilated["writers"]["permutation_p"] == pytest.approx(4 / 64)
    # std of (1, 1, 3) points: sqrt((4/9 + 4/9 + 16/9) / 2) = 1.15
    assert "| dilated | folds | 3 | 0: +1.00, 1: +1.00, 2: +3.00 | +1.67 | 1.15 | 0 / 3 / 0 | 0.250 | 0.250 |" in md
    assert "| dilated | writers | 6 |  | +1.67 |" in md
    # the TCN finished folds 0 and 1 only: paired over those two
    assert "| tcn | folds | 2 | 0: -1.00, 1: -2.00 | -1.50 | 0.71 | 2 / 0 / 0 | 0.500 | 0.500 |" in md
    assert "| cnn_only | | 0 | not run yet |" in md
    assert "smallest p-value over folds is 0.25" in md


def test_curves_from_the_csv_log(cv_root: Path, tmp_path: Path) -> None:
    # epochs counted from 1; the validation after fit (logged as epoch 4, the best value again) is left out
    assert read_val_curve(cv_root / "crnn_dhsd" / "fold_0") == {1: 0.40, 2: 0.20, 3: 0.10}
    # a resumed run's CSV log lost epochs 1-2: metrics.json's curve fills them, the CSV wins where it has a value
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    points = [{"epoch": 1, "val/cer": 0.5}, {"epoch": 2, "val/cer": 0.3}, {"epoch": 3, "val/cer": 0.9}]
    (resumed / "metrics.json").write_text(json.dumps({"curve/val": points}))
    write_csv_log(resumed, [0.25, 0.15], first_epoch=2)
    assert read_val_curve(resumed) == {1: 0.5, 2: 0.3, 3: 0.25, 4: 0.15}
    assert mean_curve([{1: 0.4, 2: 0.2, 3: 0.1}, {1: 0.5, 2: 0.3}]) == [
        (1, pytest.approx(0.45), 2), (2, pytest.approx(0.25), 2), (3, pytest.approx(0.1), 1)]
    out = tmp_path / "docs"
    numbers = report(cv_root, out)
    png = out / "ablation_cv_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "![Validation CER by epoch](ablation_cv_curves.png)" in (out / "ablation_cv.md").read_text()
    assert numbers["configs"]["bilstm"]["curve_mean"][0] == [1, pytest.approx(0.45), 2]


def test_the_report_leaves_results_md_alone(cv_root: Path, tmp_path: Path, no_plot: None) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    kept = "# Results\n\nlinks to [the ablation over writer folds](ablation_cv.md)\n"
    (out / "results.md").write_text(kept)
    report(cv_root, out)
    assert (out / "results.md").read_text() == kept  # results.md links the report; no spliced copy
    assert "# Dilated convolutions vs BiLSTM over writer folds" in (out / "ablation_cv.md").read_text()
    record = json.loads((out / "ablation_cv.json").read_text())
    assert not Path(record["configs"]["bilstm"]["cv_dir"]).is_absolute() or str(tmp_path) in \
        record["configs"]["bilstm"]["cv_dir"]  # repo-relative where the folder lies in the checkout


def test_dry_run_prints_one_multirun_of_configurations_x_folds(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("dry run must not start anything"))
    root = tmp_path / "cv"
    args = ["--dry-run", "--cv-root", str(root), "--out", str(tmp_path / "docs"), "trainer.max_epochs=1"]
    assert ablation_cv.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # every configuration x fold is a job of one Hydra multirun
    command = shlex.split(lines[0])
    assert command[:4] == [sys.executable, "-m", "htr_lit.train", "-m"]
    experiments = ["crnn_dhsd", "dilated_dhsd", "ablation/dilated_unshared", "ablation/dilated_1d", "ablation/cnn_only",
                   "ablation/tcn", "ablation/dilated_rates1248", "ablation/dilated_3block"]
    assert f"experiment={','.join(experiments)}" in command and "cv.fold=2,3,4" in command
    assert "sweep=cv" in command and f"hydra.sweep.dir={root}" in command and "trainer.max_epochs=1" in command
    # conf/sweep/cv.yaml's subdir: <experiment with / as _>/fold_<i>, the folders the report reads
    assert not any(a.startswith("hydra.sweep.subdir=") for a in command)
    threads = max(1, (os.cpu_count() or 1) // 2)  # two folds at a time share the cores
    assert f"torch_threads={threads}" in command and "hydra/launcher=local_parallel" in command
    assert not (tmp_path / "docs").exists() and not root.exists()


def test_a_failed_multirun_still_reports_what_is_there(cv_root: Path, tmp_path: Path, monkeypatch,
                                                       capsys, no_plot: None) -> None:
    started = []

    def fake_run(cmd: list[str], check: bool = False) -> subprocess.CompletedProcess:
        started.append(cmd)
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(subprocess, "run", fake_run)
    args = ["--configs", "bilstm,dilated,tcn", "--folds", "0,1", "--jobs", "1", "--cv-root", str(cv_root),
            "--out", str(tmp_path / "docs")]
    assert ablation_cv.main(args) == 1
    assert len(started) == 1 and "experiment=crnn_dhsd,dilated_dhsd,ablation/tcn" in started[0]
    assert "cv.fold=0,1" in started[0] and not any(a.startswith("hydra/launcher") for a in started[0])  # basic
    captured = capsys.readouterr()
    # the fixture's records carry no job record of today's folds: all 6 to go, one at a time, 60 min each
    assert "3 configurations x 2 folds = 6 fold trainings, 0 finished before" in captured.out
    assert "about 6.0 h to go" in captured.out
    assert "the multirun failed" in captured.err and "cnn_only" not in captured.err
    assert (tmp_path / "docs" / "ablation_cv.md").is_file()  # the report of what is there, all the same


def test_unknown_configuration_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown configuration.*lstm.*valid: bilstm, cnn_only, dilated"):
        ablation_cv.main(["--dry-run", "--configs", "bilstm,lstm", "--cv-root", str(tmp_path)])
    with pytest.raises(SystemExit, match="drop the experiment= override"):
        ablation_cv.main(["--dry-run", "experiment=crnn_dhsd"])


def test_other_writers_under_a_fold_index_are_not_paired(cv_root: Path, tmp_path: Path, no_plot: None) -> None:
    write_cv(cv_root / "ablation_cnn_only", {0: (0.20, 0.40, 0.60, [0.2, 0.2])})
    summary_file = cv_root / "ablation_cnn_only" / "cv_folds_0.json"
    summary = json.loads(summary_file.read_text())
    summary["folds"][0]["test_writers"] = ["x", "y"]  # another split (another --seed): not comparable
    summary_file.write_text(json.dumps(summary))
    numbers = report(cv_root, tmp_path / "docs")
    cnn_only = numbers["paired"]["cnn_only"]
    assert cnn_only["pairs"] == 0 and "not the same folds" in cnn_only["error"]
    assert numbers["paired"]["dilated"]["pairs"] == 3  # the others are still paired


def test_sources_are_named_relative_to_the_checkout(tmp_path: Path) -> None:
    inside = tmp_path / "docs" / "cv" / "crnn_dhsd" / "cv.json"
    assert shown_path(inside, base=tmp_path) == "docs/cv/crnn_dhsd/cv.json"
    outside = Path("/elsewhere/cv.json")
    assert shown_path(outside, base=tmp_path) == "/elsewhere/cv.json"


SHARED_DHSD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dhsd" / "labels.csv"


@pytest.mark.skipif(not SHARED_DHSD.is_file(), reason="the folds are drawn from ../shared/data/dhsd's writers")
def test_the_kept_fold_records_leave_nothing_to_train() -> None:
    kept = Path(__file__).resolve().parents[1] / "docs" / "cv"
    configs = ablation_cv.resolve_configs(["bilstm", "tcn"], kept)
    assert ablation_cv.fold_plan(configs, [2, 3, 4], []) == {"bilstm": [], "tcn": []}
    assert ablation_cv.fold_plan(configs, [2], ["data.augment=strong"]) == {"bilstm": [2], "tcn": [2]}  # new recipe
