"""The one path that scores a checkpoint on labelled images: predict's batched path
(`htr_lit.inference.batching.transcribe`) with any decoder and, if asked, the test-time stretch (`Reader`),
and the figures of readings against their labels (`figures`). Used by writer cross-validation (`score_writers`:
per writer and over all rows), the robustness check and the predict benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

ALL = "ALL"  # score_writers' key for the figures over every row of a fold


def decoder_spec(name: str) -> Any:
    """The `conf/decoder/<name>.yaml` node, as eval and predict compose it (`decoder=<name>`)."""
    from htr_lit.config import compose_config

    return compose_config("predict", [f"decoder={name}"]).decoder


def figures(preds: Sequence[str], texts: Sequence[str]) -> dict[str, float | int]:
    """CER and WER (errors summed over the rows, as fractions), word accuracy and the number of rows."""
    from torchmetrics.functional.text import char_error_rate, word_error_rate

    return {
        "cer": float(char_error_rate(list(preds), list(texts))),
        "wer": float(word_error_rate(list(preds), list(texts))),
        "word_acc": sum(p == t for p, t in zip(preds, texts)) / len(texts),
        "images": len(texts),
    }


class Reader:
    """A checkpoint reading image files: its own preprocessing, `decoder` (a conf/decoder name, keeping `top_n`
    hypotheses an image), the test-time stretch `tta` (width factors) if given, PyTorch on the CPU (`threads` torch
    threads). Unreadable images read as the empty text."""

    def __init__(self, ckpt: str | Path, decoder: str = "greedy", tta: Sequence[float] | None = None,
                 batch_size: int = 32, threads: int | None = None, top_n: int = 1) -> None:
        from htr_lit.checkpoint import load_model
        from htr_lit.decoding.factory import build_decoder
        from htr_lit.inference.backend import build_backend
        from htr_lit.inference.tta import StretchFusion

        self.model, self.pre = load_model(ckpt)
        self.backend = build_backend("torch", self.model, self.pre, ckpt, threads=threads)
        self.decode = self.model.decoder if decoder == "greedy" else build_decoder(
            decoder_spec(decoder), self.model.charset.tokens, self.model.htr_meta.get("train_texts"), top_n=top_n)
        self.tta = StretchFusion(tuple(tta), self.model.charset.tokens, self.pre.min_width) if tta else None
        self.batch_size = batch_size

    def read(self, paths: Sequence[str | Path]) -> list[str]:
        """The best text of every image, in order."""
        from htr_lit.inference.batching import transcribe

        results = transcribe([Path(p) for p in paths], self.pre, self.backend, self.decode, self.batch_size,
                             tta=self.tta)
        return [r.hypotheses[0].text if r.hypotheses else "" for r in results]


def score_writers(
    ckpt: Path, rows: dict[str, list[tuple[str, str]]], batch_size: int = 32, decoder: str = "greedy",
    tta: tuple[float, ...] | None = None,
) -> dict[str, dict]:
    """CER/WER per writer of `ckpt` on `rows` (writer -> [(image, text)]) read by `Reader`. The key ALL holds the
    figures over every row (errors summed, not writers averaged)."""
    reader = Reader(ckpt, decoder, tta, batch_size)
    out: dict[str, dict] = {}
    all_preds: list[str] = []
    all_texts: list[str] = []
    for writer, items in sorted(rows.items()):
        texts = [text for _, text in items]
        preds = reader.read([path for path, _ in items])
        out[writer] = figures(preds, texts)
        all_preds += preds
        all_texts += texts
    if all_texts:
        out[ALL] = figures(all_preds, all_texts)
    return out
