"""Transcribe word images with a checkpoint: `python -m htr_lit.predict ckpt_path=PATH input=... [decoder=beam]`."""

from __future__ import annotations

import glob
import json
import logging
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.collate import collate
from htr_lit.data.formats import IMAGE_SUFFIXES
from htr_lit.data.preprocess import ImageLoadError, Preprocess, to_tensor
from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.factory import build_decoder
from htr_lit.errors import ConfigError, UserError, exit_on_user_error

log = logging.getLogger("htr_lit.predict")


class InputNotFoundError(UserError, FileNotFoundError):
    """`input=` matches no image, folder, list file or glob pattern."""


def expand_inputs(spec: str) -> list[Path]:
    """An image, a folder (searched recursively), a glob pattern, or a text file listing paths."""
    p = Path(spec)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if p.is_file() and p.suffix.lower() in (".txt", ".lst", ".list"):
        lines = p.read_text(encoding="utf-8").splitlines()
        return [Path(x.strip()) if Path(x.strip()).is_absolute() else p.parent / x.strip()
                for x in lines if x.strip() and not x.startswith("#")]
    if p.is_file():
        return [p]
    matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
    if not matches:
        raise InputNotFoundError(f"input={spec}: no such image, folder, list file or glob match")
    return matches


# Images loaded at a time: batches are formed by width inside such a window (less padding, as eval does).
WINDOW_BATCHES = 8


def _windows(paths: list[Path], pre: Preprocess, size: int) -> Iterator[tuple[list[Path], list[np.ndarray]]]:
    """Load images lazily, `size` at a time; unreadable ones are reported on stderr and left out."""
    for start in range(0, len(paths), size):
        chunk, images = [], []
        for path in paths[start : start + size]:
            try:
                images.append(pre.load(path))
                chunk.append(path)
            except ImageLoadError as e:
                print(f"error: {e}", file=sys.stderr)
        if chunk:
            yield chunk, images


def _score(h: Hypothesis) -> float | None:
    """Rounded log-score; None for -inf (no hypothesis fits), which JSON cannot hold."""
    return round(h.score, 4) if math.isfinite(h.score) else None


def format_hypotheses(path: Path, hyps: list[Hypothesis], fmt: str, top_n: int) -> list[str]:
    """Output lines for one image: `path<TAB>text` (top_n=1), else one `path<TAB>text<TAB>score` per
    hypothesis; jsonl: one object with the best text and confidence (+ `hypotheses` when top_n > 1)."""
    best = hyps[0]
    if fmt == "jsonl":
        record: dict[str, object] = {"path": str(path), "text": best.text, "confidence": round(math.exp(best.score), 4)}
        if top_n > 1:
            record["hypotheses"] = [{"text": h.text, "score": _score(h)} for h in hyps[:top_n]]
        return [json.dumps(record, ensure_ascii=False)]
    if top_n > 1:
        return [f"{path}\t{h.text}\t{h.score:.4f}" for h in hyps[:top_n]]
    return [f"{path}\t{best.text}"]


def predict(cfg: DictConfig) -> int:
    """Returns the number of inputs that could not be transcribed."""
    model, pre = load_model(cfg.ckpt_path)
    top_n = int(cfg.top_n if cfg.get("top_n") is not None else cfg.decoder.get("top_n", 1))
    decoder = build_decoder(cfg.decoder, model.charset.tokens, model.htr_meta.get("train_texts"), top_n=top_n)
    model.to(cfg.device)
    paths = expand_inputs(str(cfg.input))
    done = 0
    with torch.inference_mode():
        for chunk, images in _windows(paths, pre, cfg.batch_size * WINDOW_BATCHES):
            results: list[list[Hypothesis]] = [[] for _ in chunk]
            by_width = sorted(range(len(images)), key=lambda i: images[i].shape[1])
            for start in range(0, len(by_width), cfg.batch_size):
                idx = by_width[start : start + cfg.batch_size]
                batch = collate([{"image": to_tensor(images[i]), "target": [], "text": "", "id": ""} for i in idx])
                log_probs, lengths = model(batch["images"].to(cfg.device), batch["widths"].to(cfg.device))
                for i, hyps in zip(idx, decoder(log_probs, lengths)):
                    results[i] = hyps
            for path, hyps in zip(chunk, results):  # input order
                print("\n".join(format_hypotheses(path, hyps, cfg.format, top_n)))
            done += len(chunk)
            sys.stdout.flush()
    return len(paths) - done


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with exit_on_user_error():
        if cfg.format not in ("tsv", "jsonl"):
            raise ConfigError(f"format={cfg.format}: choose tsv or jsonl")
        failed = predict(cfg)
    if failed:
        print(f"{failed} input(s) could not be read", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
