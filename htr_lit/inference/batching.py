"""The transcription loop every backend shares: load images a window at a time (unreadable ones reported,
not fatal), sort the window by width, pad each batch only to its own widest image, run the backend,
decode, and hand the results back in input order."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from htr_lit.data import ink, layout
from htr_lit.data.collate import pad_batch
from htr_lit.data.preprocess import ImageLoadError, Preprocess
from htr_lit.decoding.base import Decoder, Hypothesis
from htr_lit.inference.backend import Backend
from htr_lit.inference.calibration import Calibration, CtcConfidence, runner_ups
from htr_lit.inference.tta import StretchFusion

# Images loaded at a time: batches are formed by width inside such a window (less padding); at least
# WINDOW_IMAGES, so that small batches still find neighbours of their width.
WINDOW_BATCHES = 8
WINDOW_IMAGES = 256
# What a blank image reads as: the empty text, scored -inf (confidence 0), since nothing on it was read: a blank
# scan is most often a cropping or scanning fault to look at, not a certainly empty field.
EMPTY = Hypothesis("", float("-inf"))


@dataclass(frozen=True)
class Result:
    """One input: its hypotheses (best first), or why it could not be read (hypotheses empty). An input read as
    several text lines (`lines`: their row ranges [top, bottom)) has one hypothesis, the lines' best texts one
    per line (score: their sum), and each line's own hypotheses in `line_hypotheses`."""

    path: Path
    hypotheses: list[Hypothesis]
    error: str | None = None
    lines: tuple[tuple[int, int], ...] = ()
    line_hypotheses: tuple[list[Hypothesis], ...] = ()
    confidence: float | None = None  # calibrated P(right) when the checkpoint carries a calibration
    line_confidences: tuple[float, ...] = ()

    @property
    def blank(self) -> bool:
        """Nothing written was found on the input (it reads as the empty text with confidence 0)."""
        return self.error is None and not self.lines and self.hypotheses[:1] == [EMPTY]


def width_batches(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar width (sorted, narrowest first; stable for equal widths)."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def decode_images(images: Sequence[np.ndarray], backend: Backend, decoder: Decoder,
                  batch_size: int, tta: StretchFusion | None = None) -> list[list[Hypothesis]]:
    """Hypotheses for preprocessed images, batched by width, returned in the order given. A blank image
    (`ink.is_blank`: nothing written) reads as the empty text without running the model, which would
    otherwise invent a word for it. With `tta`, each image with ink is read at every width stretch and the
    readings are fused (htr_lit/inference/tta.py)."""
    return decode_with_confidence(images, backend, decoder, batch_size, tta)[0]


def decode_with_confidence(images: Sequence[np.ndarray], backend: Backend, decoder: Decoder, batch_size: int,
                           tta: StretchFusion | None = None, calibration: Calibration | CtcConfidence | None = None,
                           ) -> tuple[list[list[Hypothesis]], list[float] | None]:
    """`decode_images`, and with a checkpoint's `calibration` (htr_lit/inference/calibration.py; with `tta`, one
    fitted on its factors) each best reading's calibrated probability of being right (0 for a blank image); else
    None."""
    if calibration is not None and calibration.factors != (tta.factors if tta is not None else None):
        raise ValueError(f"a calibration fitted on stretches {calibration.factors} for readings with "
                         f"{tta.factors if tta is not None else None}")
    results: list[list[Hypothesis]] = [[EMPTY] if ink.is_blank(im) else [] for im in images]
    written = [i for i, hyps in enumerate(results) if not hyps]
    to_read = [images[i] for i in written]

    def read(batch_images: list[np.ndarray]) -> tuple[list[list[Hypothesis]], list[torch.Tensor]]:
        keep = tta is not None or calibration is not None
        return read_batches(batch_images, backend, decoder, batch_size, keep_log_probs=keep)

    views = tta.read(to_read, read) if tta is not None else None
    hyps, log_probs = ([v.hypotheses for v in views], [v.log_probs for v in views]) if views is not None else (
        read(to_read))
    for i, h in zip(written, hyps):
        results[i] = h
    if calibration is None:
        return results, None
    confidence = [0.0] * len(images)
    best = [h[0] if h else Hypothesis("", -math.inf) for h in hyps]
    for i, p in zip(written, calibration(log_probs, [h.text for h in best], stretch=views,
                                         scores=[h.score for h in best], runner_up=runner_ups(hyps))):
        confidence[i] = float(p)
    return results, confidence


def read_batches(images: Sequence[np.ndarray], backend: Backend, decoder: Decoder, batch_size: int,
                 keep_log_probs: bool = False) -> tuple[list[list[Hypothesis]], list[torch.Tensor]]:
    """One plain reading in width-sorted batches: hypotheses per image and, if asked, its log_probs (T_i, C)
    (else an empty list). What `tta` fuses, in predict and in eval."""
    hyps: list[list[Hypothesis]] = [[] for _ in images]
    log_probs: list[torch.Tensor] = [torch.empty(0)] * len(images) if keep_log_probs else []
    for batch in width_batches([im.shape[1] for im in images], batch_size):
        lp, lengths = backend.run(*pad_batch([images[i] for i in batch]))  # (B, T, C), (B,)
        for k, (i, h) in enumerate(zip(batch, decoder(lp, lengths))):
            hyps[i] = h
            if keep_log_probs:
                log_probs[i] = lp[k, : int(lengths[k])]
    return hyps, log_probs


def load_window(paths: Sequence[Path], pre: Preprocess) -> tuple[list[np.ndarray], dict[int, str]]:
    """The readable images of `paths` (preprocessed) and, by position, why the others could not be read."""
    images: list[np.ndarray] = []
    errors: dict[int, str] = {}
    for i, path in enumerate(paths):
        try:
            images.append(pre.load(path))
        except ImageLoadError as e:
            errors[i] = str(e)
    return images, errors


def load_line_window(paths: Sequence[Path], pre: Preprocess) -> tuple[list[np.ndarray], dict[int, str],
                                                                      dict[int, list[tuple[int, int]]]]:
    """As `load_window`, each input first searched for text lines (htr_lit/data/layout.py): one holding several
    gives one preprocessed image per line (in order, in place of its one image), listed by position in the
    third dict with the lines' row ranges."""
    images: list[np.ndarray] = []
    errors: dict[int, str] = {}
    lines: dict[int, list[tuple[int, int]]] = {}
    for i, path in enumerate(paths):
        try:
            gray = pre.paper(path)
        except ImageLoadError as e:
            errors[i] = str(e)
            continue
        found = layout.text_lines(gray)
        if len(found) > 1:
            lines[i] = found
            images += [pre.normalize(pre.clean(part)) for part in layout.cut_lines(gray, found)]
        else:
            images.append(pre.normalize(pre.clean(gray)))
    return images, errors, lines


def _joined(line_hyps: list[list[Hypothesis]]) -> Hypothesis:
    """Several lines' best readings as one text, a line each; their log-scores add up (independent lines)."""
    return Hypothesis("\n".join(h[0].text for h in line_hyps), sum(h[0].score for h in line_hyps))


def transcribe(paths: Sequence[Path], pre: Preprocess, backend: Backend, decoder: Decoder, batch_size: int = 32,
               window: int | None = None, on_error: Callable[[str], None] | None = None,
               tta: StretchFusion | None = None, split_lines: bool = False,
               calibration: Calibration | CtcConfidence | None = None) -> Iterator[Result]:
    """One Result per path, in input order, a window (`WINDOW_BATCHES` batches, at least `WINDOW_IMAGES`
    images) at a time. The next window
    is read in a background thread while the model runs on this one (decoding and OpenCV release the GIL).
    `on_error(message)` gets each unreadable input before its window's results (predict: on stderr).
    `split_lines`: an input holding several text lines is read a line at a time (predict; word datasets are not
    split: a DHSD word never is, tests/test_layout.py). `calibration`: the checkpoint's word-confidence
    calibration; each Result then carries its calibrated `confidence`."""
    window = window or max(batch_size * WINDOW_BATCHES, WINDOW_IMAGES)
    # The loader is one thread beside a model that already uses every core: OpenCV's own thread pool would
    # only compete with it. Process-wide.
    cv2.setNumThreads(1)
    # read_gray refuses an image over MAX_DECODE_PIXELS (below Pillow's warning size) naming the file; Pillow's
    # DecompressionBombWarning would only add an anonymous traceback-like line to stderr. Process-wide too.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    chunks = [list(paths[s : s + window]) for s in range(0, len(paths), window)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="htr-load") as pool:
        def load(chunk: list[Path]) -> tuple[list[np.ndarray], dict[int, str], dict[int, list[tuple[int, int]]]]:
            return load_line_window(chunk, pre) if split_lines else (*load_window(chunk, pre), {})

        pending = pool.submit(load, chunks[0]) if chunks else None
        for k, chunk in enumerate(chunks):
            images, errors, lines = pending.result()
            if k + 1 < len(chunks):
                pending = pool.submit(load, chunks[k + 1])
            for message in errors.values():
                if on_error is not None:
                    on_error(message)
            hyps, confs = (decode_with_confidence(images, backend, decoder, batch_size, tta, calibration) if images
                           else ([], None))
            decoded = iter(zip(hyps, confs if confs is not None else [None] * len(hyps)))
            for i, path in enumerate(chunk):
                if i in errors:
                    yield Result(path, [], errors[i])
                elif i in lines:
                    parts = [next(decoded) for _ in lines[i]]
                    line_hyps = tuple(h for h, _ in parts)
                    line_conf = tuple(c for _, c in parts if c is not None)
                    yield Result(path, [_joined(list(line_hyps))], lines=tuple(lines[i]), line_hypotheses=line_hyps,
                                 confidence=float(np.prod(line_conf)) if line_conf else None,
                                 line_confidences=line_conf)
                else:
                    h, c = next(decoded)
                    yield Result(path, h, confidence=c)
