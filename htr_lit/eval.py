"""Evaluate a checkpoint (default: the shipped recognizer) on any dataset option:
`python -m htr_lit.eval [ckpt_path=PATH] data=... | test_csv=... decoder=...`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from htr_lit.analysis.confidence import confidence_report
from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.overlap import overlap_warning
from htr_lit.decoding.base import Hypothesis
from htr_lit.decoding.factory import build_decoder, decoder_name, decoder_options, describe
from htr_lit.decoding.timed import TimedDecoder
from htr_lit.errors import exit_on_user_error
from htr_lit.inference.batching import read_batches
from htr_lit.inference.calibration import confidence_kind, confidences, hypotheses_needed, word_confidence
from htr_lit.inference.labelled import build_test_datamodule
from htr_lit.inference.torch_backend import TorchBackend
from htr_lit.inference.tta import StretchFusion, StretchReading, tta_factors
from htr_lit.models.module import HTRModule
from htr_lit.overrides import checked_overrides
from htr_lit.runs.records import write_metrics
from htr_lit.runs.runner import print_metrics, run_task, to_float_dict

log = logging.getLogger(__name__)


class StretchReader:
    """eval's `tta`: a test batch's images read at each width stretch and fused, as predict does (the batch holds
    ink 1 / paper 0 floats of uint8 images, so they go back to uint8 exactly); each image's readings are kept in
    test order (`kept`), for the confidence of the fused reading."""

    def __init__(self, model: HTRModule, fusion: StretchFusion) -> None:
        self.model, self.fusion = model, fusion
        self.kept: list[StretchReading] = []

    def _read(self, images: list[np.ndarray]) -> tuple[list[list[Hypothesis]], list[torch.Tensor]]:
        backend = TorchBackend(self.model, device=str(self.model.device))  # wherever the trainer put the model
        return read_batches(images, backend, self.model.decoder, max(len(images), 1), keep_log_probs=True)

    def __call__(self, batch: dict[str, Any]) -> list[str]:
        ink = batch["images"][:, 0].float().cpu().numpy()  # (B, H, W_max)
        images = [np.rint(255.0 - 255.0 * ink[i, :, : int(w)]).astype(np.uint8) for i, w in enumerate(batch["widths"])]
        views = self.fusion.read(images, self._read)
        self.kept += views
        return [v.hypotheses[0].text if v.hypotheses else "" for v in views]


class TestTexts(Callback):
    """The test rows' labels in the order the test loop reads them (beside the decoder's kept hypotheses)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        self.texts += list(batch["texts"])


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    model, pre = load_model(cfg.ckpt_path)
    factors = tta_factors(cfg.get("tta"))
    # predict's rule (calibration.word_confidence): the checkpoint's calibrated confidence with greedy decoding (with
    # a stretch, the calibration fitted on its factors); with another decoder its calibration of that decoder, else
    # P(text | image) under CTC
    calibration = word_confidence(model, decoder_name(cfg.decoder), factors, decoder_options(cfg.decoder))
    # Built first, so that a decoder that cannot be built fails before any data is read.
    built = build_decoder(cfg.decoder, model.charset.tokens, model.htr_meta.get("train_texts"),
                          top_n=hypotheses_needed(calibration))
    decoder = TimedDecoder(built, keep=True, keep_log_probs=calibration is not None and not factors)
    model.decoder = decoder
    stretched = StretchReader(model, StretchFusion(factors, model.charset.tokens, pre.min_width)) if factors else None
    model.test_reader = stretched
    datamodule = build_test_datamodule(cfg, model, pre)
    overlap = overlap_warning(model.htr_meta, cfg.ckpt_path, datamodule.datasets["test"].samples,
                              cfg.paths.get("dhsd_dir"))
    if overlap:
        log.warning(overlap)
    stretch = f", test-time stretch x{', x'.join(f'{f:g}' for f in factors)}" if factors else ""
    log.info("evaluating %s on %s with decoder %s%s", cfg.ckpt_path, datamodule.describe(), describe(cfg.decoder),
             stretch)

    truths = TestTexts()
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[truths], enable_checkpointing=False)
    metrics = to_float_dict(trainer.test(model, datamodule=datamodule, verbose=False)[0])
    # how far the word confidence can be trusted (htr_lit/analysis/confidence.py); with tta the fused readings
    # come from the test reader, not the decoder
    confidence = None
    views = stretched.kept if stretched is not None else None
    best = [v.hypotheses[0] if v.hypotheses else Hypothesis("", 0.0) for v in views] if views is not None else (
        decoder.kept)
    if len(best) == len(truths.texts):
        log_probs = [v.log_probs for v in views] if views is not None else decoder.kept_log_probs
        conf = confidences(calibration, log_probs, [h.text for h in best], [h.score for h in best], stretch=views,
                           runner_up=decoder.kept_runner_up if views is None else None)
        confidence = confidence_report(conf, [h.text == t for h, t in zip(best, truths.texts)])
        confidence["kind"] = confidence_kind(calibration)
    metrics.update({
        "decoder": decoder_name(cfg.decoder),
        "decoder_options": decoder_options(cfg.decoder),
        "decode_ms_per_image": round(decoder.ms_per_image, 4),
        "tta": list(factors) if factors else None,
        "data/skipped": len(datamodule.skipped),
        "ckpt_path": str(cfg.ckpt_path),
        "confidence": confidence,  # AUROC, ECE, accuracy of the most confident 50 / 80 %, risk-coverage
    })
    out_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        write_metrics(out_dir, metrics)
        print(f"decoder: {describe(cfg.decoder)}{stretch}; {decoder.ms_per_image:.2f} ms per image (decoding)")
        if confidence and confidence["auroc"] is not None:
            print(f"word confidence: AUROC {confidence['auroc']:.3f}, ECE {confidence['ece']:.3f}; the most "
                  f"confident 50 % of the words {100 * confidence['accuracy_top50']:.1f} % right, all "
                  f"{100 * confidence['accuracy']:.1f} % (risk-coverage curve in metrics.json)")
        print_metrics(metrics, out_dir)
    return metrics


@checked_overrides("eval")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    with exit_on_user_error():
        return run_task(evaluate, cfg).get("test/cer")


if __name__ == "__main__":
    main()
