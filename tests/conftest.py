"""Shared fixtures: composed configs shrunk for CPU tests, tiny datasets made on the fly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict
from PIL import Image, ImageDraw

from htr_lit.config import CONFIG_DIR

WORDS = ["Haus", "Straße", "über", "Köln", "word", "test", "Nord", "42", "Mühle", "apple"]


def write_word_png(path: Path, text: str, height: int = 32) -> None:
    """A crude but readable word image drawn with PIL's default font (no font files needed)."""
    img = Image.new("L", (12 * len(text) + 16, height), 255)
    ImageDraw.Draw(img).text((8, height // 4), text, fill=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def write_writer_labels(root: Path, height: int = 64) -> Path:
    """root/labels.csv over 3 writers x WORDS, images at root/w<writer>/<i>.png; returns the CSV path."""
    lines = ["file_name,text,writer_id"]
    for w in range(3):
        for i, text in enumerate(WORDS):
            write_word_png(root / f"w{w}/{i}.png", text, height=height)
            lines.append(f"w{w}/{i}.png,{text},w{w}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.csv"


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
    """labels.csv with 3 writers x 10 words, images under images/."""
    rows = []
    for w in range(3):
        for i, text in enumerate(WORDS):
            name = f"images/w{w}/{i}.png"
            write_word_png(tmp_path / name, text)
            rows.append({"file_name": name, "text": text, "writer_id": f"w{w}"})
    csv_path = tmp_path / "labels.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["file_name", "text", "writer_id"])
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def compose_cfg(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose a real config the way the CLI does, with the run folder set (no Hydra app here)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=False)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


TINY_MODEL = [
    "model.encoder.channels=[4,8,8,8,8]",
    "model.sequence.hidden_size=8",
    "data.batch_size=8",
    "data.eval_batch_size=8",
    "data.num_workers=0",
]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
