"""Train, validate and test a model: `python -m htr_lit.train [hydra overrides]` (or `htr-train`)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from htr_lit.checkpoint import build_meta, encoder_weights, read_checkpoint
from htr_lit.config import CONFIG_DIR
from htr_lit.cv.fold_job import apply_fold, fold_record
from htr_lit.errors import exit_on_user_error
from htr_lit.models.module import HTRModule
from htr_lit.models.receptive_field import total_rf
from htr_lit.overrides import checked_overrides
from htr_lit.runs.callbacks import ValidationCurve
from htr_lit.runs.records import JobRecord, objective
from htr_lit.runs.runner import build_callbacks, build_loggers, print_metrics, run_task, to_float_dict
from htr_lit.runs.throughput import ImageCounter, inference_batch, inference_images_per_s

log = logging.getLogger(__name__)
INFER_BATCH = 64


def trainer_is_global_zero() -> bool:
    """Rank 0 before the Trainer exists (torchrun sets RANK/LOCAL_RANK, Slurm SLURM_PROCID in the others)."""
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(var):
            return int(os.environ[var]) == 0
    return True


def pretrained_weights(cfg: DictConfig, resuming: bool) -> dict[str, torch.Tensor] | None:
    """Build the model once with a stand-in charset (the charset only sizes the head), so that a bad model
    override or a pre-trained encoder (`pretrained_encoder`) that does not fit fails in seconds, before
    any data loads; returns that encoder's weights. A resumed run has its own weights already."""
    stand_in = instantiate(cfg.model, charset=["a"])
    pretrained = None if resuming else cfg.get("pretrained_encoder")
    return encoder_weights(stand_in.encoder, pretrained) if pretrained else None


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """The data option, every split loaded and validated (a bad row fails here, before any training)."""
    log.info("data: %s", cfg.data.source._target_)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    for stage in ("fit", "test"):
        datamodule.setup(stage)
    return datamodule


FEW_WORDS = 1000  # a training split this small with pretrained_encoder= is likely a user's own few words


def check_charset_against_base(cfg: DictConfig, datamodule: L.LightningDataModule) -> None:
    """With `pretrained_encoder=` a recognizer, the head starts fresh on the data's own charset: say so when a small
    training split builds a charset that lacks characters the recognizer could write (htr-adapt keeps them)."""
    base = cfg.get("pretrained_encoder")
    if not base:
        return
    base_chars = (read_checkpoint(base).get("htr_lit") or {}).get("charset") or []
    lost = sorted(set(base_chars) - set(datamodule.charset.chars))
    words = len(datamodule.datasets["train"])
    if lost and words < FEW_WORDS:
        log.warning("the charset is built from the %d training words: %d characters, where %s writes %d (%d it could "
                    "write are lost: %s); the head starts fresh. To fine-tune the whole recognizer on a few words, "
                    "keeping its charset: htr-adapt labels=LABELS.csv ckpt_path=%s out=DIR", words,
                    len(datamodule.charset), base, len(base_chars), len(lost), "".join(lost[:20]), base)


def build_model(cfg: DictConfig, datamodule: L.LightningDataModule,
                weights: dict[str, torch.Tensor] | None) -> HTRModule:
    """The model for the data's charset, carrying the checkpoint metadata; encoder pre-trained if given."""
    check_charset_against_base(cfg, datamodule)
    model = instantiate(cfg.model, charset=datamodule.charset.chars)
    model.htr_meta = build_meta(cfg.model, datamodule.charset.chars, datamodule.preprocess,
                                [s.text for s in datamodule.datasets["train"].samples],
                                train_samples=datamodule.datasets["train"].samples)  # eval warns on overlap
    if weights is not None:
        model.encoder.load_state_dict(weights)
        log.info("encoder initialised from %s (%d tensors)", cfg.pretrained_encoder, len(weights))
    datamodule.check_ctc_feasible(model.encoder.frames)
    return model


def train(cfg: DictConfig) -> dict[str, Any]:
    """Data -> model -> trainer -> fit -> validate/test the best checkpoint -> metrics.json."""
    wall_start = time.perf_counter()
    fold = apply_fold(cfg)  # cv.fold=I: writer fold I's test and validation writers (None: no cross-validation)
    job = JobRecord(cfg)
    previous = job.done_before()  # a re-run sweep skips its finished jobs
    if previous is not None:
        return previous
    ckpt_path = job.resume_from()
    weights = pretrained_weights(cfg, resuming=ckpt_path is not None)
    if trainer_is_global_zero():
        job.start()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(cfg)
    model = build_model(cfg, datamodule, weights)
    rf = total_rf(model.encoder, model.sequence)  # along the width; None = the whole word (BiLSTM)
    log.info("model: %s; receptive field %s", model.summary_line(),
             "the whole word" if rf["frames"] is None else f"{rf['frames']} frames / {rf['pixels']} px")
    log.info("data: %s", datamodule.describe())

    loggers = build_loggers(cfg)
    counter, curve = ImageCounter(), ValidationCurve()
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=[*build_callbacks(cfg), counter, curve], logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        # W&B/CSV/TensorBoard get the size and context of every run too (None = the whole word: not logged)
        lg.log_metrics({"model/params": model.num_parameters(),
                        **{f"model/rf_{k}": v for k, v in rf.items() if v is not None}})

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    train_s = time.perf_counter() - start
    # Now: validate/test below load the best checkpoint, which restores the callbacks' state as of that
    # epoch (a curve cut at the best epoch).
    val_curve = list(curve.points)

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    best = best or None
    metrics: dict[str, Any] = {}
    metrics.update(trainer.validate(model, datamodule=datamodule, ckpt_path=best, verbose=False)[0])
    metrics.update(trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)[0])
    metrics = to_float_dict(metrics)
    batch = inference_batch(datamodule.datasets["test"], batch_size=INFER_BATCH)
    infer = inference_images_per_s(model, batch["images"], batch["widths"])  # after the CNN alone too
    metrics.update({
        "params": model.num_parameters(),
        "model/rf_frames": rf["frames"],
        "model/rf_pixels": rf["pixels"],
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "time/train_s": round(train_s, 1),  # trainer.fit, per-epoch validation included
        "time/total_s": round(time.perf_counter() - wall_start, 1),
        "throughput/train_img_s": round(counter.images / max(train_s, 1e-9), 2),  # this attempt's images
        "throughput/infer_img_s": round(infer["model"], 2),  # batch 64 of test images, median of 5 passes
        "throughput/seq_infer_img_s": round(infer["sequence"], 2),  # sequence model + head only
        "throughput/torch_threads": torch.get_num_threads(),
        "data/skipped": len(datamodule.skipped),
        "best_ckpt": best,
        "curve/val": val_curve,  # val/cer, val/wer after every validation pass during fit
    })
    if fold is not None:
        metrics["cv"] = fold_record(fold, cfg)  # the writer fold this run trained (htr_lit/cv/summary.py)
    record = job.finish(metrics, write=trainer.is_global_zero)
    if trainer.is_global_zero:
        print_metrics(metrics, job.out_dir)
    return record


@checked_overrides("train")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns the sweep objective (`optimized_metric`); +inf for a job that failed in a multirun."""
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    with exit_on_user_error():
        return objective(run_task(train, cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
