"""A tiny checkpoint trained in-process in a few seconds: what export/predict/checkpoint tests load, through
the session fixture `tiny_checkpoint` of tests/conftest.py (each variant is trained once a session)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from hydra.utils import instantiate

from htr_lit.checkpoint import build_meta, save
from htr_lit.data.collate import collate
from htr_lit.data.preprocess import Preprocess, to_tensor
from tests.helpers import TINY, WORDS, compose_cfg, write_word_png

SEQUENCE_OVERRIDES = {  # fewer layers than the options' (widths: debug=tiny)
    "bilstm": [],
    "dilated": ["model.sequence.num_blocks=1"],
    "tcn": ["model.sequence.rates=[1,2]", "model.sequence.num_blocks=1"],
    "cnn_only": [],
}

# The dilated model without dropout, trained to a standstill: reads the ten words of `WORDS` without an error.
READS = {"sequence": "dilated", "overrides": ["model.sequence.dropout=0"], "steps": 250, "decay": True}


def word_images(folder: Path, height: int = 32) -> list[Path]:
    """One PNG per word of `WORDS` (different widths) under `folder`."""
    paths = []
    for i, text in enumerate(WORDS):
        paths.append(folder / f"{i}_{text}.png")
        write_word_png(paths[-1], text, height=height)
    return paths


def train_tiny_checkpoint(folder: Path, sequence: str = "dilated", steps: int = 150, seed: int = 0,
                          overrides: Sequence[str] = (), decay: bool = False) -> Path:
    """Train a 4..8-channel CNN + `sequence` for `steps` AdamW steps on `WORDS`; save with train.py's metadata.
    `overrides`: more Hydra overrides (e.g. model/encoder=separable). `decay`: the learning rate falls linearly to
    0, so training ends still: with `READS` the dilated model then reads its ten words without an error after 250
    steps. At a constant rate for 150 steps, the tiny BiLSTM (8 units) emits a few characters, nearly all wrong."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a loaded 2-core machine, 2 threads make a tiny LSTM ~100x slower
    try:
        return _train_and_save(folder, sequence, steps, seed, overrides, decay)
    finally:
        torch.set_num_threads(threads)


def _train_and_save(folder: Path, sequence: str, steps: int, seed: int, extra: Sequence[str] = (),
                    decay: bool = False) -> Path:
    torch.manual_seed(seed)
    overrides = [f"model/sequence={sequence}", *TINY, "data.img_height=32", "model.head_dropout=0",
                 *SEQUENCE_OVERRIDES[sequence], *extra]
    cfg = compose_cfg("train", overrides, folder)
    pre = Preprocess(img_height=32, max_width=512, min_width=16)
    images = [to_tensor(pre.load(p)) for p in word_images(folder / "train")]
    model = instantiate(cfg.model, charset=sorted({c for w in WORDS for c in w}))
    batch = collate([{"image": im, "target": model.charset.encode(t), "text": t, "id": t}
                     for im, t in zip(images, WORDS)])
    opt = torch.optim.AdamW(model.parameters(), lr=0.02)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / steps if decay else 1.0)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss, _, _ = model._loss(batch)
        loss.backward()
        opt.step()
        schedule.step()
    model.eval()
    model.htr_meta = build_meta(cfg.model, model.charset.chars, pre, WORDS)
    return save(model, folder / f"{sequence}.ckpt")
