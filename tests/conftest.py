"""Shared fixtures: tiny datasets made on the fly, one torch thread. Helpers (config composition, image
and CSV writers, the tiny overrides) are in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import write_writer_labels


@pytest.fixture
def one_thread():
    """One torch thread for the test: tiny models run faster and steadier than with 2 threads fighting
    other processes for the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def csv_dataset(tmp_path: Path) -> Path:
    """labels.csv with 3 writers x 10 words, 32-pixel-high images under images/."""
    return write_writer_labels(tmp_path, height=32, prefix="images/")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="session")
def onnx_cache_in_a_temp_folder(tmp_path_factory):
    """predict's default backend exports checkpoints to ONNX into a cache: the tests' cache is their own
    (also for the CLIs they start), never the user's ~/.cache."""
    import os

    old = os.environ.get("HTR_LIT_CACHE")
    os.environ["HTR_LIT_CACHE"] = str(tmp_path_factory.mktemp("htr_lit_cache"))
    yield
    if old is None:
        os.environ.pop("HTR_LIT_CACHE", None)
    else:
        os.environ["HTR_LIT_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """`tiny_checkpoint(sequence="dilated", *overrides) -> Path`: a tiny checkpoint trained on `WORDS`
    (tests/tiny_ckpt.py), each (sequence, overrides) variant trained once a session and shared by every test
    that asks for it. The default (dilated) reads its ten words without an error; the other variants emit a few
    characters, nearly all wrong (export parity, encoder loading, a page of bad readings). Tests read the file
    and write their outputs elsewhere; none may change it."""
    from tests.tiny_ckpt import READS, train_tiny_checkpoint

    made: dict[tuple[str, ...], Path] = {}

    def get(sequence: str = "dilated", *overrides: str) -> Path:
        key = (sequence, *overrides)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"tiny_{sequence}")
            if key == ("dilated",):  # the default: reads its words
                made[key] = train_tiny_checkpoint(folder, **READS)
            else:  # 150 steps at a constant rate
                made[key] = train_tiny_checkpoint(folder, sequence, overrides=overrides)
        return made[key]

    return get
