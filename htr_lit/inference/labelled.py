"""Labelled images to score a checkpoint on: a data option's test split (or a labels CSV), read as the
checkpoint reads (its charset and preprocessing). eval, inspect and the decoder benchmark share it."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from htr_lit.data.datamodule import HTRDataModule
from htr_lit.data.preprocess import Preprocess, reading_preprocess
from htr_lit.data.sources import LabelsCSVSource
from htr_lit.models.module import HTRModule


def build_test_datamodule(cfg: DictConfig, model: HTRModule, pre: Preprocess) -> HTRDataModule:
    """The data option's test split (or `test_csv`), read with the checkpoint's charset and preprocessing."""
    pre = reading_preprocess(pre, cfg.get("max_width"))
    overrides: dict[str, Any] = dict(**pre.to_dict(), augment="none", charset=model.charset.chars)
    if cfg.get("test_csv"):
        overrides["source"] = LabelsCSVSource(test_csv=cfg.test_csv)
    datamodule = instantiate(cfg.data, **overrides)
    datamodule.prepare_data()
    datamodule.setup("test")
    datamodule.check_ctc_feasible(model.encoder.frames)
    return datamodule
