"""Load an htr-lit checkpoint into a ready-to-use model: it carries charset, model config, preprocessing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from htr_lit.data.preprocess import Preprocess
from htr_lit.models.module import HTRModule


class CheckpointError(ValueError):
    """A checkpoint that is missing, not from htr-lit, or does not fit its own model config."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        # weights_only: plain containers and tensors only, no pickled code runs on load.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e})") from e


def load_model(path: str | Path) -> tuple[HTRModule, Preprocess]:
    """Rebuild the model from the checkpoint's own config and weights; eval mode, on CPU."""
    ckpt = read_checkpoint(path)
    meta = ckpt.get("htr_lit") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not an htr-lit checkpoint (no 'htr_lit' metadata)")
    missing = [k for k in ("model_cfg", "charset", "preprocess") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: htr-lit checkpoint without {missing} (saved by an incompatible version)")
    try:
        model: HTRModule = instantiate(meta["model_cfg"], charset=meta["charset"])
        pre = Preprocess(**meta["preprocess"])
    except Exception as e:  # noqa: BLE001 - a config from another version can fail in many ways
        raise CheckpointError(f"{path}: cannot rebuild the model from the config stored with it ({e})") from e
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = "; ".join(lines[1:4]) or lines[0]
        raise CheckpointError(f"{path}: weights do not match the model config stored with them ({detail})") from e
    model.htr_meta = meta
    model.eval()
    return model, pre
