"""Evaluate a checkpoint on any dataset option: `python -m htr_lit.eval ckpt_path=PATH data=...`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.sources import LabelsCSVSource
from htr_lit.runner import print_metrics, run_task, to_float_dict

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    model, pre = load_model(cfg.ckpt_path)
    overrides: dict[str, Any] = dict(
        img_height=pre.img_height, max_width=pre.max_width, min_width=pre.min_width,
        augment="none", charset=model.charset.chars,
    )
    if cfg.get("test_csv"):
        overrides["source"] = LabelsCSVSource(test_csv=cfg.test_csv)
    datamodule = instantiate(cfg.data, **overrides)
    datamodule.prepare_data()
    datamodule.setup("test")
    datamodule.check_ctc_feasible(model.encoder.frames)
    log.info("evaluating %s on %s", cfg.ckpt_path, datamodule.describe())

    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], enable_checkpointing=False)
    metrics = to_float_dict(trainer.test(model, datamodule=datamodule, verbose=False)[0])
    metrics.update({"data/skipped": len(datamodule.skipped), "ckpt_path": str(cfg.ckpt_path)})
    out_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        print_metrics(metrics, out_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    return run_task(evaluate, cfg).get("test/cer")


if __name__ == "__main__":
    main()
