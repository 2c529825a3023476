"""scripts/keep_cv_records.sh copies the small records of finished folds into docs/cv, never checkpoints or
the files of a fold that is still training."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "keep_cv_records.sh"


def fold(root: Path, name: str, status: str) -> None:
    (root / name / "csv").mkdir(parents=True)
    (root / name / "checkpoints").mkdir()
    (root / name / "metrics.json").write_text(json.dumps({"status": status}, indent=2))
    (root / name / "cv_job.json").write_text("{}")
    (root / name / "csv" / "metrics.csv").write_text("epoch\n0\n")
    (root / name / "checkpoints" / "last.ckpt").write_text("weights")
    (root / name / "cv_train.log").write_text("progress")


@pytest.mark.slow
def test_keeps_the_records_of_finished_folds_only(tmp_path) -> None:
    src, dest = tmp_path / "outputs" / "cv", tmp_path / "records"  # dest given as an absolute path
    fold(src / "run", "fold_0", "ok")
    fold(src / "run", "fold_1", "running")
    (src / "run" / "cv_folds_0.json").write_text("{}")
    out = subprocess.run(["bash", str(SCRIPT), str(src), str(dest)], capture_output=True, text=True, check=True).stdout
    kept = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert kept == ["run/cv_folds_0.json", "run/fold_0/csv/metrics.csv", "run/fold_0/cv_job.json",
                    "run/fold_0/metrics.json"]
    assert "left out 3 file(s)" in out
