"""Test helpers shared by the test files: tiny word images and labels CSVs, and the real config composed
the way the CLI composes it (fixtures stay in conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict
from PIL import Image, ImageDraw

from htr_lit.config import compose_config

WORDS = ["Haus", "Straße", "über", "Köln", "word", "test", "Nord", "42", "Mühle", "apple"]
# conf/debug/tiny.yaml: tiny widths (size=tiny) of whichever encoder and sequence model, batches
# of 8, no loader workers, 1 epoch. Tests that train longer say so after it (trainer.max_epochs=N).
TINY = ["debug=tiny"]


def compose_cfg(config_name: str, overrides: Sequence[str] = (), output_dir: Path | None = None, *,
                hydra: bool = False) -> DictConfig:
    """`config_name` (train, eval, predict, export) composed with `overrides` as the CLI does. With
    `output_dir`, that is the run folder (no Hydra app runs here to set it); `hydra=True` keeps the
    `hydra` node (sweeper params, launcher, run/sweep dirs)."""
    cfg = compose_config(config_name, overrides, hydra=hydra)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def csv_data(csv_path: Path, option: str = "csv") -> list[str]:
    """data=<option> (csv, or dhsd: a csv preset) on `csv_path`, a third of the writers each for validation
    and test (write_writer_labels' 3 writers: 1 + 1 + 1)."""
    return [f"data={option}", f"data.source.csv_path={csv_path}", "data.source.val_fraction=0.34",
            "data.source.test_fraction=0.34"]


def write_word_png(path: Path, text: str, height: int = 32) -> None:
    """A crude but readable word image drawn with PIL's default font (no font files needed)."""
    img = Image.new("L", (12 * len(text) + 16, height), 255)
    ImageDraw.Draw(img).text((8, height // 4), text, fill=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def write_writer_labels(root: Path, height: int = 64, prefix: str = "", writers: int = 3) -> Path:
    """root/labels.csv over `writers` writers x WORDS, images at root/<prefix>w<writer>/<i>.png; the CSV path."""
    lines = ["file_name,text,writer_id"]
    for w in range(writers):
        for i, text in enumerate(WORDS):
            name = f"{prefix}w{w}/{i}.png"
            write_word_png(root / name, text, height=height)
            lines.append(f"{name},{text},w{w}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.csv"


def tiny_data_and_model(csv_path: Path, output_dir: Path, *overrides: str):
    """A tiny model and its datamodule (set up for fit) on a labels CSV with explicit splits off: the
    in-process pair that trainer-level tests drive with their own L.Trainer."""
    from hydra.utils import instantiate

    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={csv_path}", "data.img_height=32",
                                "data.augment=none", *TINY, *overrides], output_dir)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    return dm, instantiate(cfg.model, charset=dm.charset.chars)


def write_labels_csv(folder: Path, words: list[str], writer_id: str | None = None) -> Path:
    """One word image per text (`write_word_png`, named 0.png, 1.png, ...) and `folder/labels.csv` listing
    them (`file_name,text`, plus `writer_id` when given)."""
    header = "file_name,text" + (",writer_id" if writer_id is not None else "")
    lines = [header]
    for i, text in enumerate(words):
        write_word_png(folder / f"{i}.png", text)
        lines.append(f"{i}.png,{text}" + (f",{writer_id}" if writer_id is not None else ""))
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "labels.csv"


def write_two_writer_words(root: Path, words: Sequence[str] = tuple(WORDS), single_writer: bool = False) -> Path:
    """`root/labels.csv` over `root/img/<i>.png` (64 px high), writer `a` for odd rows and `b` for even ones (all
    `a` with `single_writer`): the labelled rows a writer-CV lab command reads."""
    lines = ["file_name,text,writer_id"]
    for i, text in enumerate(words):
        write_word_png(root / "img" / f"{i}.png", text, height=64)
        lines.append(f"img/{i}.png,{text},{'a' if single_writer or i % 2 else 'b'}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "labels.csv"


def write_finished_fold(folder: Path, ckpt: Path, test_writers: Sequence[str], val_writers: Sequence[str] = (),
                        index: int = 0) -> Path:
    """`folder/fold_<index>` as a finished writer-CV fold (its metrics.json) whose best checkpoint is `ckpt`."""
    import json

    fold = folder / f"fold_{index}"
    fold.mkdir(parents=True)
    (fold / "metrics.json").write_text(json.dumps({"status": "ok", "best_ckpt": str(ckpt), "cv": {
        "fold": index, "folds": 2, "seed": 0, "test_writers": list(test_writers), "val_writers": list(val_writers)}}))
    return fold
