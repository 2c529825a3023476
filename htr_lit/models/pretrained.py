"""Initialise a model's CNN encoder from another run's checkpoint (synthetic pre-training, transfer).

Only the encoder's tensors are copied: the sequence model and the head start from their own random
init, and the charset may differ (the head's size does). The encoders must have the same shapes.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from htr_lit.checkpoint import CheckpointError, read_checkpoint

PREFIX = "encoder."


def encoder_weights(encoder: nn.Module, path: str | Path) -> dict[str, Tensor]:
    """The `encoder.*` tensors of an htr-lit checkpoint, checked to fit `encoder` (prefix stripped).

    Raises CheckpointError (naming the file) when it is missing, holds no encoder, or its encoder has
    other layers or shapes than this one (e.g. `model/encoder=compact` vs `simple`).
    """
    ckpt = read_checkpoint(path)
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    weights = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    if not weights:
        raise CheckpointError(f"{path}: the checkpoint holds no '{PREFIX}*' weights to initialise the encoder from")
    own = encoder.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    wrong = [f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"missing {missing[:3]}" if missing else "",
            f"unexpected {unexpected[:3]}" if unexpected else "",
            f"shape (checkpoint vs this model) {wrong[:3]}" if wrong else "",
        ]))
        raise CheckpointError(
            f"{path}: its encoder does not fit this model's encoder ({detail}); pre-train with the same "
            f"model/encoder and data.img_height")
    return weights


def load_encoder_weights(encoder: nn.Module, path: str | Path) -> int:
    """Copy the `encoder.*` tensors of an htr-lit checkpoint into `encoder` (checked by
    `encoder_weights`); returns how many were copied."""
    weights = encoder_weights(encoder, path)
    encoder.load_state_dict(weights)
    return len(weights)
