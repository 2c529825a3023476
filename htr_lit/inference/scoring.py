"""Scoring a writer-CV fold's checkpoint on its test writers with any decoder and, if asked, the test-time
stretch: predict's batched path (`htr_lit.inference.batching.transcribe`), figures per writer and over all
rows. Used by `python -m htr_lit.cv` to re-score trained folds (`--decoder`, `--tta`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ALL = "ALL"  # score_writers' key for the figures over every row of a fold


def decoder_spec(name: str) -> Any:
    """The `conf/decoder/<name>.yaml` node, as eval and predict compose it (`decoder=<name>`)."""
    from htr_lit.config import compose_config

    return compose_config("predict", [f"decoder={name}"]).decoder


def score_writers(
    ckpt: Path, rows: dict[str, list[tuple[str, str]]], batch_size: int = 32, decoder: str = "greedy",
    tta: tuple[float, ...] | None = None,
) -> dict[str, dict]:
    """CER/WER per writer of `ckpt` on `rows` (writer -> [(image, text)]) with `decoder` (a decoder config
    name) and, if given, predict's test-time stretch `tta` (width factors), the checkpoint's own preprocessing
    and predict's batched path; unreadable images count as empty transcriptions. The key ALL holds the figures
    over every row (errors summed, not writers averaged)."""
    from torchmetrics.functional.text import char_error_rate, word_error_rate

    from htr_lit.checkpoint import load_model
    from htr_lit.decoding.factory import build_decoder
    from htr_lit.inference.batching import transcribe
    from htr_lit.inference.torch_backend import TorchBackend
    from htr_lit.inference.tta import StretchFusion

    model, pre = load_model(ckpt)
    backend = TorchBackend(model)
    decode = model.decoder if decoder == "greedy" else build_decoder(
        decoder_spec(decoder), model.charset.tokens, model.htr_meta.get("train_texts"), top_n=1
    )

    fusion = StretchFusion(tta, model.charset.tokens, pre.min_width) if tta else None

    def figures(preds: list[str], texts: list[str]) -> dict:
        return {
            "cer": float(char_error_rate(preds, texts)),
            "wer": float(word_error_rate(preds, texts)),
            "word_acc": sum(p == t for p, t in zip(preds, texts)) / len(texts),
            "images": len(texts),
        }

    out: dict[str, dict] = {}
    all_preds: list[str] = []
    all_texts: list[str] = []
    for writer, items in sorted(rows.items()):
        texts = [text for _, text in items]
        results = transcribe([Path(path) for path, _ in items], pre, backend, decode, batch_size, tta=fusion)
        preds = [r.hypotheses[0].text if r.hypotheses else "" for r in results]
        out[writer] = figures(preds, texts)
        all_preds += preds
        all_texts += texts
    if all_texts:
        out[ALL] = figures(all_preds, all_texts)
    return out
