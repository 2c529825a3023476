"""The htr-lit checkpoint format, in one place: the metadata a checkpoint carries (charset, model config,
preprocessing, training texts, training writers and image digests, format version), reading it back into a
ready model, and reading another run's encoder weights (pre-training, transfer).

A checkpoint is a Lightning checkpoint (or the slim `{"state_dict", "htr_lit"}` that `save` writes) whose
`"htr_lit"` entry is `build_meta`'s dict; `HTRModule.on_save_checkpoint` writes `model.htr_meta` there.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from htr_lit.assets import MODELS_DIR
from htr_lit.data.overlap import training_record
from htr_lit.data.preprocess import Preprocess
from htr_lit.data.sample import Sample
from htr_lit.errors import UserError

if TYPE_CHECKING:  # models/ must not import this module back; the class is only needed for typing
    from htr_lit.models.module import HTRModule

META_KEY = "htr_lit"
# Raised when the metadata changes incompatibly; files without the key are from before it existed (1).
FORMAT_VERSION = 1
REQUIRED = ("model_cfg", "charset", "preprocess")
ENCODER_PREFIX = "encoder."
# Classes that moved since checkpoints named them in their model config: old `_target_` -> today's.
MOVED_TARGETS = {"htr_lit.models.sequence.identity.Identity": "htr_lit.models.sequence.collapse.CollapseHeight"}


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, not from htr-lit, from a newer htr-lit, or does not fit its own config."""


def build_meta(model_cfg: DictConfig | Mapping[str, Any], charset: Sequence[str], preprocess: Preprocess,
               train_texts: Sequence[str], train_samples: Sequence[Sample] | None = None) -> dict[str, Any]:
    """What every checkpoint carries so that inference needs nothing else: the model's config (resolved),
    its charset, the image preprocessing, and the training transcriptions (decoders estimate their
    character LM / lexicon from them at eval time); given the training samples, their writers and image
    digests too (`htr_lit.data.overlap`: eval and inspect warn when a test set shares them)."""
    cfg = OmegaConf.to_container(model_cfg, resolve=True) if OmegaConf.is_config(model_cfg) else dict(model_cfg)
    return {
        "format_version": FORMAT_VERSION,
        "model_cfg": cfg,
        "charset": [str(c) for c in charset],
        "preprocess": preprocess.to_dict(),
        "train_texts": [str(t) for t in train_texts],
        **(training_record(train_samples) if train_samples is not None else {}),
    }


def save(model: HTRModule, path: str | Path) -> Path:
    """An inference-only checkpoint (weights + `model.htr_meta`, no optimizer state) that `load_model` reads."""
    path = Path(path)
    torch.save({"state_dict": model.state_dict(), META_KEY: dict(model.htr_meta)}, path)
    return path


# torch.save writes a zip archive; files from torch < 1.6 are a bare pickle (protocol 2+).
TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
OTHER_FILE_STARTS = {b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image", b"II*\x00": "TIFF image",
                     b"MM\x00*": "TIFF image", b"%PDF": "PDF", b"\x08": "ONNX model (use backend=onnx with the .ckpt)"}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint file's contents, read without running pickled code (weights_only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        hint = ""
        if path.parent.resolve() == MODELS_DIR:  # a misspelt shipped=NAME
            hint = f" (the shipped models there: {', '.join(sorted(p.stem for p in MODELS_DIR.glob('*.ckpt')))})"
        raise CheckpointError(f"{path}: checkpoint not found{hint}")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.strip(b"\x00"):
        raise CheckpointError(f"{path}: cannot read checkpoint: the file is empty or zero-filled (a save cut short?)")
    if not head.startswith(TORCH_FILE_STARTS):
        kind = next((name for magic, name in OTHER_FILE_STARTS.items() if head.startswith(magic)), None)
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({f'a {kind} file' if kind else 'unknown content'}); "
                              "pass the .ckpt a training run wrote (its run folder's checkpoints/best.ckpt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: holds Python objects besides weights, which are not loaded (no pickled code "
                              "runs here); not an htr-lit checkpoint") from e
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(f"{path}: cannot read checkpoint, truncated or damaged? ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(ckpt).__name__}, not a dict)")
    return ckpt


def read_meta(ckpt: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """The checkpoint's htr-lit metadata, checked: present, complete, and a format version this code reads."""
    meta = ckpt.get(META_KEY)
    if not isinstance(meta, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not an htr-lit checkpoint (no '{META_KEY}' metadata)")
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is newer than this htr-lit reads "
            f"(up to {FORMAT_VERSION}); upgrade htr-lit to load it")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: htr-lit checkpoint without {missing} (saved by an incompatible version)")
    return {**meta, "model_cfg": _moved(meta["model_cfg"])}


def _moved(node: Any) -> Any:
    """A stored config with the `_target_`s of classes that moved since (MOVED_TARGETS) pointing to their home."""
    if isinstance(node, dict):
        return {k: MOVED_TARGETS.get(v, v) if k == "_target_" else _moved(v) for k, v in node.items()}
    return [_moved(v) for v in node] if isinstance(node, list) else node


def load_model(path: str | Path) -> tuple[HTRModule, Preprocess]:
    """Rebuild the model from the checkpoint's own config and weights; eval mode, on CPU."""
    ckpt = read_checkpoint(path)
    meta = read_meta(ckpt, path)
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


def encoder_weights(encoder: nn.Module, path: str | Path) -> dict[str, Tensor]:
    """The `encoder.*` tensors of a checkpoint, checked to fit `encoder` (prefix stripped), for
    `encoder.load_state_dict`: only the CNN is transferred; sequence model and head keep their own init,
    and the charset may differ.

    Raises CheckpointError (naming the file) when it is missing, holds no encoder, or its encoder has
    other layers or shapes than this one (e.g. `model/encoder=compact` vs `simple`).
    """
    ckpt = read_checkpoint(path)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    weights = {k[len(ENCODER_PREFIX):]: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
    if not weights:
        raise CheckpointError(
            f"{path}: the checkpoint holds no '{ENCODER_PREFIX}*' weights to initialise the encoder from"
        )
    own = encoder.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in weights and weights[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            filter(
                None,
                [
                    f"missing {missing[:3]}" if missing else "",
                    f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"shape (checkpoint vs this model) {wrong[:3]}" if wrong else "",
                ],
            )
        )
        raise CheckpointError(
            f"{path}: its encoder does not fit this model's encoder ({detail}); pre-train with the same "
            f"model/encoder and data.img_height"
        )
    return weights
