"""Checkpoints name their model's classes by import path; a class that moved since still loads (MOVED_TARGETS)."""

from __future__ import annotations

from htr_lit.assets import MODELS_DIR
from htr_lit.checkpoint import MOVED_TARGETS, load_model, read_checkpoint, read_meta
from htr_lit.models.sequence.collapse import CollapseHeight


def test_read_meta_points_moved_targets_to_their_home() -> None:
    old = "htr_lit.models.sequence.identity.Identity"
    model_cfg = {"_target_": "m.M", "sequence": {"_target_": old, "_partial_": True}, "x": [{"_target_": old}]}
    meta = {"model_cfg": model_cfg, "charset": ["", "a"], "preprocess": {}}
    cfg = read_meta({"htr_lit": meta, "state_dict": {}}, "x.ckpt")["model_cfg"]
    assert cfg["sequence"] == {"_target_": MOVED_TARGETS[old], "_partial_": True} and cfg["_target_"] == "m.M"
    assert cfg["x"] == [{"_target_": MOVED_TARGETS[old]}] and meta["model_cfg"]["sequence"]["_target_"] == old


def test_the_shipped_pretrained_encoder_still_loads() -> None:
    """pretrained.ckpt was saved when the height-collapsing control was `sequence.identity.Identity`."""
    path = MODELS_DIR / "pretrained.ckpt"
    assert read_checkpoint(path)["htr_lit"]["model_cfg"]["sequence"]["_target_"] in MOVED_TARGETS
    model, _ = load_model(path)
    assert isinstance(model.sequence, CollapseHeight)
