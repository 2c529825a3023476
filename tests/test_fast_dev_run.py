"""debug=fast_dev_run ("one batch: does it run?") renders only a few hundred synthetic images, not the sets a
full run renders first (104,000 names), and keeps the model at the recipe's own widths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers import compose_cfg

# Each place a recipe puts synthetic data: data.source (words, names), data_sources.names (mixed into DHSD),
# and the names' val/test CSVs (the recognizers).
EXPERIMENTS = ["crnn_synthetic", "pretrain_names", "crnn_dhsd", "recognizer_separable", "ablation/tcn"]
DHSD = Path(os.environ.get("HTR_DHSD_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "dhsd"))


def synthetic_sources(node: object) -> list[DictConfig]:
    """Every SyntheticSource node of a config, wherever the recipe puts it (data.source, data_sources.*)."""
    if not isinstance(node, DictConfig):
        return []
    own = [node] if str(node.get("_target_", "")).endswith("SyntheticSource") else []
    return own + [s for k in node.keys() for s in synthetic_sources(node._get_node(k))]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_a_fast_dev_run_renders_a_few_hundred_synthetic_images_and_keeps_the_model(experiment, tmp_path):
    fast = compose_cfg("train", [f"experiment={experiment}", "debug=fast_dev_run"], tmp_path)
    full = compose_cfg("train", [f"experiment={experiment}"], tmp_path)
    for source in synthetic_sources(fast):
        assert source.num_train + source.num_val + source.num_test <= 320, (experiment, source.root)
        assert source.root.endswith("_tiny")  # never the full set's folder (a generated set is reused by sizes)
    # The recognizers score the rendered names' own val/test CSVs: those of the small set.
    rendered_csvs = [v for k, v in fast.data.source.items() if k.endswith("_csv") and v and "synth" in v]
    assert all("_tiny/" in v for v in rendered_csvs) and bool(rendered_csvs) == experiment.startswith("recognizer")
    assert fast.model == full.model  # the recipe's own widths: the shipped pre-trained encoder still fits


@pytest.mark.slow
@pytest.mark.skipif(not (DHSD / "labels.csv").is_file(), reason="DHSD not found (HTR_DHSD_DIR)")
def test_the_dhsd_fast_dev_run_renders_a_few_names_and_its_log_is_quiet(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HTR_DATA_DIR": str(tmp_path / "data"), "HTR_DHSD_DIR": str(DHSD),
           "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-m", "htr_lit.train", "debug=fast_dev_run", "experiment=crnn_dhsd",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, env=env, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith(".")) == ["synth_names_tiny"]
    assert "receptive field the whole word" in out
    assert not [w for w in ("Tip:", "LeafSpec", "srun") if w in out], out[-3000:]
