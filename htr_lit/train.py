"""Train, validate and test a model: `python -m htr_lit.train [hydra overrides]` (or `htr-train`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from htr_lit.config import CONFIG_DIR
from htr_lit.models.receptive_field import total_rf
from htr_lit.resume import resolve_ckpt_path
from htr_lit.runner import build_callbacks, build_loggers, print_metrics, run_task, to_float_dict

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Data -> model -> trainer -> fit -> validate/test the best checkpoint -> metrics.json."""
    out_dir = Path(cfg.paths.output_dir)
    # Fail in seconds on a bad model override or checkpoint, before any data loads (the charset is a stand-in).
    instantiate(cfg.model, charset=["a"])
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), bool(cfg.get("resume")), out_dir)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    log.info("data: %s", cfg.data.source._target_)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    for stage in ("fit", "test"):  # load and validate every split before any training starts
        datamodule.setup(stage)

    model = instantiate(cfg.model, charset=datamodule.charset.chars)
    model.htr_meta = {
        "model_cfg": OmegaConf.to_container(cfg.model, resolve=True),
        "preprocess": datamodule.preprocess.to_dict(),
        "format_version": 1,
        # Training transcriptions: decoders estimate their character LM / lexicon from them at eval time.
        "train_texts": [s.text for s in datamodule.datasets["train"].samples],
    }
    datamodule.check_ctc_feasible(model.encoder.frames)
    rf = total_rf(model.encoder, model.sequence)  # along the width; None = the whole word (BiLSTM)
    log.info("model: %s; receptive field %s frames / %s px", model.summary_line(), rf["frames"], rf["pixels"])
    log.info("data: %s", datamodule.describe())

    loggers = build_loggers(cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=build_callbacks(cfg), logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        lg.log_metrics({"model/params": model.num_parameters()})

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    train_s = time.perf_counter() - start

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    best = best or None
    metrics: dict[str, Any] = {}
    metrics.update(trainer.validate(model, datamodule=datamodule, ckpt_path=best, verbose=False)[0])
    metrics.update(trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)[0])
    metrics = to_float_dict(metrics)
    metrics.update({
        "params": model.num_parameters(),
        "model/rf_frames": rf["frames"],
        "model/rf_pixels": rf["pixels"],
        "epochs": trainer.current_epoch,
        "time/train_s": round(train_s, 1),
        "data/skipped": len(datamodule.skipped),
        "best_ckpt": best,
    })
    if trainer.is_global_zero:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        print_metrics(metrics, out_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run_task(train, cfg)
    return metrics.get(cfg.get("optimized_metric") or "", None)


if __name__ == "__main__":
    main()
