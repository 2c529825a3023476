"""htr_lit/measuring/check_robustness.py: every variant is read and counted against the clean reading, and the paper
brightness range is reported for the labels CSV's images; the 1-bit copies and the half- and third-size copies
get a CER row each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import WORDS, write_labels_csv

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # runs the script in a subprocess


def test_check_robustness_counts_changed_readings_per_variant(tmp_path, tiny_checkpoint):
    ckpt = tiny_checkpoint("bilstm")
    write_labels_csv(tmp_path, WORDS[:3], writer_id="7")
    proc = subprocess.run([sys.executable, "-m", "htr_lit.measuring.check_robustness", "--ckpt", str(ckpt),
                           "--labels", str(tmp_path / "labels.csv"), "--writer", "7", "--words", "3",
                           "--synthetic", "0", "--bitonal-writers", "7", "--bitonal-words", "2",
                           "--lowres-ckpt", str(ckpt), "--lowres-writers", "7"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and " of 3 |" in line]
    assert [r.split(" | ")[0][2:] for r in rows] == ["upscaled 3x", "rotated 5°", "blur 1.5 px", "JPEG quality 15",
                                                      "downscaled to 1/3", "shadow 90-240"]
    assert all(len(r.split(" | ")[2].split(", ")) == 3 for r in rows)  # three readings per variant
    section = proc.stdout.split("words of writers 7, CER %:")[1].split("\n\n")[0]
    bitonal = [line.split(" | ")[0][2:] for line in section.splitlines()
               if line.startswith("| ") and not line.startswith("| image")]
    assert bitonal == ["scan (grey)", "1-bit, dithered", "1-bit, Otsu threshold"]
    sizes = [line.split(" | ")[0][2:] for line in proc.stdout.split("ckpt), CER %:")[1].split("\n\n")[0].splitlines()
             if line.startswith("| ") and not line.startswith("| size")]
    assert sizes == ["full", "1/2", "1/3"]
    assert "labels.csv: 3 images, paper brightness range (grey levels): max 0" in proc.stdout


def test_lowres_check_alone_compares_several_checkpoints(tmp_path, tiny_checkpoint):
    """--checks lowres with two checkpoints: one size table per checkpoint, none of the other checks."""
    import shutil

    ckpt = tiny_checkpoint("bilstm")
    other = shutil.copy(ckpt, tmp_path / "other.ckpt")
    write_labels_csv(tmp_path, WORDS[:2], writer_id="7")
    proc = subprocess.run([sys.executable, "-m", "htr_lit.measuring.check_robustness", "--labels",
                           str(tmp_path / "labels.csv"), "--checks", "lowres", "--lowres-ckpt", str(ckpt), str(other),
                           "--lowres-writers", "7"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tables = proc.stdout.split("words of writers 7 (")[1:]
    assert [t.split(")")[0] for t in tables] == [str(ckpt), str(other)]
    assert " of 2 |" not in proc.stdout and "paper brightness range" not in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "htr_lit.measuring.check_robustness", "--checks", "lowres,sharpness"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "unknown ['sharpness']" in bad.stderr
