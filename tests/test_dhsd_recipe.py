"""The DHSD recipe on the real DHSD labels (skipped without ../shared): its data set-up must not stop on the
dataset's few near-blank scans, and must name what it drops."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from htr_lit.train import build_datamodule, build_model
from tests.helpers import compose_cfg

DHSD = Path(os.environ.get("HTR_DHSD_DIR", Path(__file__).parents[2] / "shared" / "data" / "dhsd"))


@pytest.mark.slow
@pytest.mark.skipif(not (DHSD / "labels.csv").is_file(), reason=f"DHSD not found at {DHSD} (../shared)")
def test_crnn_dhsd_drops_the_near_blank_scan_instead_of_stopping(tmp_path, caplog) -> None:
    """writer14/14_92.png holds two specks of ink for "Schöttgenstraße": cropped to the ink it is 23 px
    wide, 5 CTC frames for a label that needs 16. The recipe's default split trains on writer 14, so
    `make train-dhsd` must skip that row with a warning naming it, not raise."""
    cfg = compose_cfg("train", ["experiment=crnn_dhsd", f"paths.dhsd_dir={DHSD}", "data.extra_train_sources=[]",
                                f"paths.data_dir={tmp_path}"], tmp_path)
    assert cfg.data.on_error == "skip"
    with caplog.at_level(logging.WARNING):
        dm = build_datamodule(cfg)  # train's own set-up: every split loaded and checked
        build_model(cfg, dm, weights=None)  # checks the labels against the encoder's CTC frames
    assert any("writer14/14_92.png" in line and "needs 16 CTC frames" in line for line in dm.skipped), dm.skipped
    assert len(dm.skipped) < 5 and "samples skipped" in caplog.text
