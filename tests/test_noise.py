"""What a run and a set-up print is about the run: no raw colour codes from `make help` in a pipe, no
setuptools deprecation for the license, no Lightning tips, srun hint (one process) or pytree deprecation."""

from __future__ import annotations

import logging
import re
import subprocess
import warnings
from pathlib import Path

import pytest

from htr_lit.runs.quiet import RANK_ZERO_LOGGERS, DropTips, one_process, quiet_lightning

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_make_help_in_a_pipe_has_no_colour_codes_and_lists_every_target():
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "\033" not in out
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"help", "setup", "test", "test-fast", "predict", "lint"} <= listed


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_reads_it():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["license"] == "MIT"  # a table is deprecated by setuptools >= 77
    assert "setuptools>=77" in meta["build-system"]["requires"]


def test_lightning_tips_are_dropped_and_other_lightning_info_kept():
    from lightning.pytorch import Trainer

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    loggers = [logging.getLogger(name) for name in RANK_ZERO_LOGGERS]
    for lg in loggers:
        lg.addHandler(handler)
    def trainer_messages() -> list[str]:
        seen.clear()
        Trainer(logger=False, accelerator="cpu", devices=1, enable_progress_bar=False, enable_model_summary=False)
        return list(seen)

    try:
        for lg in loggers:
            lg.filters = [f for f in lg.filters if not isinstance(f, DropTips)]
        assert any("Tip" in m for m in trainer_messages()), "Lightning shows no tip any more: drop the filter"
        quiet_lightning()
        quieted = trainer_messages()
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    assert quieted and not [m for m in quieted if "Tip" in m], quieted


def test_the_srun_hint_is_dropped_for_one_process_and_kept_for_several(tmp_path, monkeypatch):
    from lightning.fabric.plugins.environments import SLURMEnvironment

    srun = tmp_path / "srun"
    srun.write_text("#!/bin/sh\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    for trainer, expected in (({"devices": 1}, 0), ({"devices": 2}, 1), ({"devices": [0], "num_nodes": 2}, 1)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet_lightning(trainer)
            SLURMEnvironment._validate_srun_used()
        assert sum("srun" in str(w.message) for w in caught) == expected, trainer


def test_lightnings_pytree_deprecation_is_dropped():
    from lightning.pytorch.utilities._pytree import _tree_flatten

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _tree_flatten(1)  # builds a LeafSpec
        assert any("LeafSpec" in str(w.message) for w in caught), "torch no longer warns: drop the filter"
        caught.clear()
        quiet_lightning()
        _tree_flatten(1)
    assert not caught, [str(w.message) for w in caught]


@pytest.mark.parametrize(("trainer", "single"), [(None, True), ({"devices": 1}, True), ({"devices": "1"}, True),
                                                 ({"devices": [3]}, True), ({"devices": 4}, False),
                                                 ({"devices": "auto"}, False), ({"num_nodes": 2}, False)])
def test_one_process(trainer, single):
    assert one_process(trainer) is single


def test_the_launcher_examples_name_options_that_exist():
    """`model/sequence=bilstm,dilated,tcn,cnn_only` in the launchers' example commands: every option a file."""
    conf = ROOT / "conf"
    choices = [(group, option) for path in sorted((conf / "hydra" / "launcher").glob("*.yaml"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")
               for group, options in re.findall(r"\b(model/\w+|trainer|experiment|data)=([\w,/]+)", line)
               for option in options.split(",")]
    assert ("model/sequence", "cnn_only") in choices
    assert [c for c in choices if not (conf / c[0] / f"{c[1]}.yaml").is_file()] == []
