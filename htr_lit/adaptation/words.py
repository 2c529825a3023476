"""A user's labelled words for `htr-adapt`: read from a labels CSV, checked row by row (every bad row named in one
message), decoded once at the base model's preprocessing, and split into the words to train on and the words held
out to choose the step and to show CER before and after."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import torch

from htr_lit.adaptation.finetune import Words, loader
from htr_lit.analysis.label_audit import LabelRow, judge_readings
from htr_lit.charset import min_ctc_frames
from htr_lit.data.dataset import load_images
from htr_lit.data.formats import read_labels_csv
from htr_lit.data.preprocess import Preprocess
from htr_lit.errors import UserError
from htr_lit.models.module import HTRModule

log = logging.getLogger(__name__)


MAX_SUSPECT_SHARE = 0.3  # drop_suspect leaves out at most this share of the words (a cap, not a tuned value)


class AdaptDataError(UserError, ValueError):
    """The labels CSV given to htr-adapt has rows that cannot be used, or too few words."""


def read_words(labels: str | Path, pre: Preprocess, image_root: str | Path | None = None,
               allow_absolute: bool = False, on_error: str = "raise", writers: set[str] | None = None) -> Words:
    """The CSV's rows (those of `writers` only, if given) decoded at `pre`. Bad rows (missing or unreadable image,
    empty text, a path outside the CSV's folder) are all listed in one error naming the file and row, or skipped
    with a warning (`on_error=skip`)."""
    samples = read_labels_csv(labels, image_root=image_root, allow_absolute=allow_absolute)
    if writers is not None:
        samples = [s for s in samples if s.writer_id in writers]
    problems = [f"{s.origin}: {s.problem}" for s in samples if s.problem]
    problems += [f"{s.origin}: empty transcription" for s in samples if not s.problem and not s.text.strip()]
    samples = [s for s in samples if not s.problem and s.text.strip()]
    images, errors = load_images(samples, pre)
    problems += errors
    keep = [i for i, im in enumerate(images) if im is not None]
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        if on_error == "raise":
            raise AdaptDataError(f"{labels}: {len(problems)} row(s) cannot be used (on_error=skip leaves them out):"
                                 f"\n  {shown}")
        log.warning("%s: %d row(s) left out:\n  %s", labels, len(problems), shown)
    return Words([samples[i] for i in keep], [images[i] for i in keep])


def drop_unalignable(words: Words, model: HTRModule) -> Words:
    """Leave out (with a warning naming them) the words whose label needs more CTC frames than the image gives:
    CTC cannot train on them (a label of another, longer word, or a crop that lost most of the word)."""
    widths = torch.tensor([im.shape[1] for im in words.images], dtype=torch.long)
    frames = model.encoder.frames(widths).tolist()
    keep, dropped = [], []
    for i, (s, t) in enumerate(zip(words.samples, frames)):
        (keep if min_ctc_frames(model.charset.encode(s.text)) <= t else dropped).append(i)
    if dropped:
        log.warning("%d word(s) left out: their label is longer than their image allows (%s)", len(dropped),
                    ", ".join(words.samples[i].origin or str(words.samples[i].path) for i in dropped[:5]))
    return words.subset(keep)


@torch.no_grad()
def drop_suspect(words: Words, model: HTRModule, pre: Preprocess, threshold: float,
                 max_share: float = MAX_SUSPECT_SHARE, min_kept: int = 0) -> tuple[Words, list[str]]:
    """Leave out the words whose label the model finds at least `threshold` nats per character less likely than
    its own reading, the label audit's score (htr_lit.analysis.label_audit; the other words' labels are weighed
    for a shift), the most suspicious first and at most `max_share` of the words: when more look wrong, the model
    reads this hand badly rather than the labels being wrong; never fewer than `min_kept` words are kept. Returns the
    words kept and a line per word left out."""
    was_training = model.training
    model.eval()
    rows, readings, frames = [], [], []
    for batch in loader(words, model, pre, 64, None, 0):
        log_probs, lengths = model(batch["images"], batch["widths"])  # (B, T, C), (B,)
        readings += model.decode(log_probs, lengths)
        frames += [log_probs[b, : int(lengths[b])] for b in range(len(lengths))]
        rows += [LabelRow(row_id, text, None, Path(row_id)) for row_id, text in zip(batch["ids"], batch["texts"])]
    model.train(was_training)
    verdicts = {r.file_name: v for r, v in zip(rows, judge_readings(rows, readings, frames, model.charset.tokens,
                                                                      {None: words.texts}))}
    scores = {row_id: v.score for row_id, v in verdicts.items()}
    ids = [s.origin or str(s.path) for s in words.samples]
    suspect = sorted((i for i, row_id in enumerate(ids) if scores[row_id] >= threshold), key=lambda i: -scores[ids[i]])
    out = set(suspect[: max(0, min(int(max_share * len(ids)), len(ids) - min_kept))])
    keep = [i for i in range(len(ids)) if i not in out]
    dropped = [f"{ids[i]}: label {verdicts[ids[i]].text!r}, read {verdicts[ids[i]].predicted!r} "
               f"({verdicts[ids[i]].kind}, {scores[ids[i]]:.2f} nats per character)" for i in sorted(out)]
    return words.subset(keep), dropped


def split_holdout(words: Words, fraction: float, min_words: int, seed: int) -> tuple[Words, Words | None]:
    """(train, held out): with at least `min_words` words, a seeded `fraction` of them (at least 5) is held out;
    fewer words all train and nothing is held out (None)."""
    n = len(words)
    if fraction <= 0 or n < min_words:
        return words, None
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = min(n - 1, max(5, round(fraction * n)))
    return words.subset(sorted(order[k:])), words.subset(sorted(order[:k]))
