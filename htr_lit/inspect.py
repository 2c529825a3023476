"""Error-analysis page for a checkpoint: `python -m htr_lit.inspect [ckpt_path=PATH] data=...|test_csv=PATH`.

Scores the test split like eval (the checkpoint's charset and preprocessing, the `decoder=` choice, bad rows
skipped and listed) and writes one self-contained HTML file: metrics, CER per writer, character
confusions and the worst words with their diff and best-path frame strip (htr_lit.analysis.inspect_page).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from htr_lit.analysis.error_analysis import WordResult
from htr_lit.analysis.inspect_page import PageInput, render_page
from htr_lit.analysis.label_audit import LabelRow, judge_readings
from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.collate import collate
from htr_lit.data.dataset import WordDataset
from htr_lit.data.overlap import overlap_warning
from htr_lit.decoding.factory import build_decoder, decoder_name, decoder_options, describe
from htr_lit.decoding.timed import TimedDecoder
from htr_lit.errors import ConfigError, exit_on_user_error
from htr_lit.inference.calibration import (
    Calibration,
    CtcConfidence,
    confidence_kind,
    confidences,
    hypotheses_needed,
    runner_ups,
    word_confidence,
)
from htr_lit.inference.labelled import build_test_datamodule
from htr_lit.metrics import text_metrics
from htr_lit.models.module import HTRModule
from htr_lit.overrides import checked_overrides

log = logging.getLogger(__name__)


def pick(total: int, max_images: int | None, seed: int) -> list[int]:
    """Indices of the images to score: all of them, or a seeded sample of `max_images` in input order."""
    if max_images is None or total <= max_images:
        return list(range(total))
    return sorted(np.random.default_rng(seed).choice(total, size=max_images, replace=False).tolist())


CONFIDENCE_KINDS = {  # how the page names calibration.confidence_kind's answer
    "calibrated": "calibrated on writers the model never trained on: P(the word is exactly right)",
    "ctc": "P(text | image) under CTC, every alignment summed (not calibrated: the checkpoint's calibration is "
           "fitted on greedy readings)",
    "raw": "raw: exp of the greedy path's log-probability, not P(right) (the checkpoint carries no calibration)",
}


def score(model: HTRModule, decoder: TimedDecoder, ds: WordDataset, indices: list[int], batch_size: int,
          device: str = "cpu", calibration: Calibration | CtcConfidence | None = None) -> list[WordResult]:
    """Transcribe `ds[indices]` in batches of similar width; keep each image, its decoded text, its word
    confidence (calibration.confidences: calibrated, P(text | image) or exp of the greedy path's log-probability),
    the best-path class of every valid frame (for the page's strip) and the label audit's verdict. Results are in
    `indices` order."""
    results: list[WordResult | None] = [None] * len(indices)
    frame_log_probs: list[torch.Tensor | None] = [None] * len(indices)
    order = sorted(range(len(indices)), key=lambda k: ds.images[indices[k]].shape[1])  # less padding
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ks = order[start : start + batch_size]
            batch = collate([ds[indices[k]] for k in ks])
            log_probs, lengths = model(batch["images"].to(device), batch["widths"].to(device))  # (B, T, C), (B,)
            hyps = decoder(log_probs, lengths)
            best = log_probs.argmax(dim=-1).cpu()  # (B, T)
            mine = [log_probs[b, : int(lengths[b])].cpu() for b in range(len(ks))]  # (T_b, C) each
            conf = confidences(calibration, mine, [hs[0].text for hs in hyps], [hs[0].score for hs in hyps],
                               runner_up=runner_ups(hyps))
            for b, k in enumerate(ks):
                s = ds.samples[indices[k]]
                results[k] = WordResult(id=s.origin or str(s.path), truth=s.text, pred=hyps[b][0].text,
                                        writer=s.writer_id, image=ds.images[indices[k]],
                                        frames=best[b, : int(lengths[b])].tolist(), image_file=str(s.path),
                                        confidence=conf[b])
                frame_log_probs[k] = mine[b]
    done = [(r, lp) for r, lp in zip(results, frame_log_probs) if r is not None]
    audit_labels([r for r, _ in done], [lp for _, lp in done], model.charset.tokens)
    return [r for r, _ in done]


def audit_labels(results: list[WordResult], log_probs: list[torch.Tensor], tokens: list[str]) -> None:
    """The label audit's verdict on each row (`result.audit`), the other labels of its writer weighed for a shift."""
    rows = [LabelRow(r.id, r.truth, r.writer, Path(r.image_file or r.id)) for r in results]
    for r, verdict in zip(results, judge_readings(rows, [r.pred for r in results], log_probs, tokens)):
        r.audit = verdict


def inspect(cfg: DictConfig) -> dict[str, Any]:
    """Score, render and write the page; returns the page's metrics (eval's keys plus the run's figures)."""
    if cfg.num_worst < 0 or (cfg.max_images is not None and cfg.max_images < 1):
        raise ConfigError(f"num_worst={cfg.num_worst}, max_images={cfg.max_images}: need num_worst >= 0 and "
                          "max_images >= 1 (or null for all)")
    start, cpu_start = time.perf_counter(), time.process_time()
    model, pre = load_model(cfg.ckpt_path)
    calibration = word_confidence(model, decoder_name(cfg.decoder), options=decoder_options(cfg.decoder))  # as predict
    decoder = TimedDecoder(build_decoder(cfg.decoder, model.charset.tokens, model.htr_meta.get("train_texts"),
                                         top_n=hypotheses_needed(calibration)))
    datamodule = build_test_datamodule(cfg, model, pre)  # bad rows: listed in datamodule.skipped (on_error=skip)
    ds = datamodule.datasets["test"]
    overlap = overlap_warning(model.htr_meta, cfg.ckpt_path, ds.samples, cfg.paths.get("dhsd_dir"))
    if overlap:
        log.warning(overlap)
    indices = pick(len(ds), cfg.max_images, cfg.seed)
    log.info("inspecting %s on %d of %d test images with decoder %s", cfg.ckpt_path, len(indices), len(ds),
             describe(cfg.decoder))
    model.to(cfg.device)
    results = score(model, decoder, ds, indices, int(cfg.data.eval_batch_size), cfg.device, calibration)

    counted = text_metrics("test/")
    if results:
        counted.update([r.pred for r in results], [r.truth for r in results])
    metrics: dict[str, Any] = {k: float(v) for k, v in counted.compute().items()} if results else {}
    metrics.update({
        "images": len(results),
        "test_images": len(ds),
        "data/skipped": len(datamodule.skipped),
        "decoder": decoder_name(cfg.decoder),
        "decode_ms_per_image": round(decoder.ms_per_image, 4),
    })
    sampled = f"a seeded sample of {len(indices)} of {len(ds)} images (max_images={cfg.max_images})" \
        if len(indices) < len(ds) else f"all {len(ds)} test images"
    notes = [f"checkpoint: {cfg.ckpt_path}", f"data: {datamodule.describe()}; scored: {sampled}",
             f"decoder: {describe(cfg.decoder)}", f"preprocessing: {pre.to_dict()}", *([overlap] if overlap else [])]
    page = PageInput(title=f"Error analysis: {Path(str(cfg.ckpt_path)).name}", results=results,
                     tokens=model.charset.tokens, metrics=metrics, skipped=list(datamodule.skipped), notes=notes,
                     num_worst=int(cfg.num_worst), num_confusions=int(cfg.num_confusions),
                     confidence_kind=CONFIDENCE_KINDS[confidence_kind(calibration)],
                     num_least_confident=int(cfg.num_least_confident), audit_threshold=float(cfg.audit_threshold),
                     num_flagged=int(cfg.num_flagged))
    # Wall and CPU time (all threads; steadier on a busy machine) to load, read and score, shown on the page.
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    metrics["cpu_seconds"] = round(time.process_time() - cpu_start, 2)
    out = Path(str(cfg.out))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(page), encoding="utf-8")
    cer = f"CER {100 * metrics['test/cer']:.2f} %, " if results else ""
    print(f"{len(results)} images ({cer}{len(datamodule.skipped)} bad rows) in {metrics['seconds']:.1f} s "
          f"({metrics['cpu_seconds']:.1f} s CPU) -> {out}")
    return metrics


@checked_overrides("inspect")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="inspect")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        inspect(cfg)


if __name__ == "__main__":
    main()
