"""Errors a user can fix read as one message, not a traceback: the real CLIs run as subprocesses on bad
labels CSVs (bad rows, not UTF-8, wrong columns) must print `error: <message>` on stderr and exit 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from htr_lit.errors import ConfigError, UserError, find_user_error
from tests.helpers import WORDS, write_word_png

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}


def test_user_errors_are_found_through_hydra_instantiate_wrapping():
    from hydra.errors import InstantiationException

    inner = ConfigError("format=x: choose a or b")
    try:
        raise InstantiationException("Error in call to target") from inner
    except InstantiationException as err:
        assert find_user_error(err) is inner
    assert find_user_error(ValueError("a bug")) is None
    assert isinstance(inner, ValueError) and isinstance(inner, UserError)


@pytest.mark.slow
def test_a_required_key_left_unset_is_named_without_a_traceback(tmp_path):
    # export needs ckpt_path=, predict input=: a one-line message and exit 1, not Hydra's traceback.
    proc = subprocess.run([sys.executable, "-m", "htr_lit.export"], capture_output=True, text=True, env=ENV,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "error: ckpt_path= is required (pass it as ckpt_path=VALUE; --help lists every key)" in proc.stderr


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint()


def labels(root: Path, body: bytes) -> Path:
    for i, text in enumerate(WORDS[:3]):
        write_word_png(root / f"img/{i}.png", text)
    good = "".join(f"img/{i}.png,{text}\n" for i, text in enumerate(WORDS[:3])).encode("utf-8")
    (root / "labels.csv").write_bytes(body.replace(b"<good>", good))
    return root / "labels.csv"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"file_name,text\n<good>img/missing.png,Haus\n", r"labels.csv:5: .*missing.png: file not found"),
        (b"file_name,text\n<good>img/0.png,Stra\xdfe\n", r"labels.csv:5: not valid UTF-8: byte 0xdf"),
        (b"file_name,transcription\nimg/0.png,Haus\n", r"labels.csv:1: missing required column\(s\) \['text'\]"),
    ],
    ids=["bad-row", "not-utf8", "wrong-column"],
)
def test_eval_cli_prints_the_message_without_a_traceback(ckpt, tmp_path, body, message):
    csv_path = labels(tmp_path / "data", body)
    proc = subprocess.run(
        [sys.executable, "-m", "htr_lit.eval", f"ckpt_path={ckpt}", f"test_csv={csv_path}",
         f"hydra.run.dir={tmp_path / 'run'}", "trainer.accelerator=cpu", "data.num_workers=0"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert re.search(rf"^error: .*{message}", proc.stderr, re.MULTILINE | re.DOTALL), proc.stderr[-3000:]


@pytest.mark.slow
def test_train_cli_bad_labels_is_a_message_and_a_multirun_records_it_and_goes_on(tmp_path):
    csv_path = labels(tmp_path / "data", b"file_name,transcription\nimg/0.png,Haus\n")
    train = [sys.executable, "-m", "htr_lit.train"]
    args = ["data=csv", f"data.source.csv_path={csv_path}",
            "model.encoder.channels=[4,8,8,8,8]", "model.sequence.hidden_size=8", "logger=csv",
            "trainer.fast_dev_run=true", "data.num_workers=0"]
    proc = subprocess.run([*train, *args, f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert "error: " in proc.stderr and "missing required column(s) ['text']" in proc.stderr
    # The same error in a multirun: each job records status failed, the sweep finishes (exit 0).
    proc = subprocess.run([*train, "-m", *args, "seed=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    for job in ("0", "1"):
        record = json.loads((tmp_path / "sweep" / job / "metrics.json").read_text())
        assert record["status"] == "failed" and "missing required column(s) ['text']" in record["error"]


@pytest.mark.slow
@pytest.mark.parametrize(("args", "line"), [
    (["htr_lit.predict", "input=x.png", "+shiped=fast"], "error: +shiped=fast: unknown key 'shiped'; did you mean "
                                                         "shipped?"),
    (["htr_lit.predict", "four.txt"], "error: four.txt: arguments are key=value; did you mean input=four.txt?"),
    (["htr_lit.train", "trainer.max_epoch=1"], "error: trainer.max_epoch=1: unknown key 'trainer.max_epoch'; did "
                                               "you mean trainer.max_epochs"),
])
def test_a_typo_on_the_command_line_is_one_line_and_exit_status_2(tmp_path, args, line):
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.startswith(line) and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
