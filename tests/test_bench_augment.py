"""htr_lit/measuring/bench_augment.py times every preset asked for on the images of a labels CSV."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import WORDS, write_labels_csv

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # runs the script in a subprocess


def test_bench_augment_prints_a_time_per_preset(tmp_path):
    write_labels_csv(tmp_path, WORDS[:4])
    proc = subprocess.run([sys.executable, "-m", "htr_lit.measuring.bench_augment", "--labels",
                           str(tmp_path / "labels.csv"), "--repeats", "1", "--presets", "none", "light"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in out] == ["none", "light"]
    assert all(re.search(r": \d+\.\d\d ms an image \(median of 1, 4 images, one core\)$", line) for line in out)
