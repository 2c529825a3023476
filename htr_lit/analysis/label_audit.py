"""Find wrong labels: every row's image read by a model that never trained on it, and the label weighed against
what the model sees.

A row's `nats` are how much less likely its label is than the model's own reading under the CTC posterior of the
image (-log P(label | image) + log P(reading | image)), its score the same per character of the label: a right
label the model misreads scores near 0 (the label is nearly as likely as the misreading), a wrong one scores high.
`lm_nats` add the prior of a names LM (htr_lit/inference/calibration.Names): how much less likely the label is
than the reading as a name (a typo makes a name unlikely, a misreading makes the reading unlikely). Rows are
ranked by one of RANKS: `score` (per character) finds swapped and truncated labels; `nats` (in all) also one-letter
typos in long words, which a per-character score spreads thin; `nats_lm` is nats + lm_nats, the label weighed
against the reading under the image and the names LM together. The kind says how the label most likely went wrong:
- `shifted`: another row of the same writer carries a label the image fits far better (a label moved to the wrong
  row within a writer); its text is the suggestion;
- `truncated`: the reading is the label plus more words (a label missing its last word);
- `typo`: the label is one or two edits from the reading;
- `mismatch`: anything else (or `unknown characters` the model cannot write, `unreadable` images);
- `agrees`: the reading is the label.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from htr_lit.data.formats import read_labels_csv
from htr_lit.decoding.base import Decoder
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.inference.batching import load_window, read_batches
from htr_lit.inference.calibration import Names, label_nll
from htr_lit.inference.scoring import Reader

# Default flag of each rank (htr-data audit --threshold): nats_lm's flags at most 13 % of the rows of the 15
# validation writers of writer folds 0-4 pooled, planted wrong labels among them (13.085, python -m
# htr_lit.cv.audit_pooled; docs/trust.md); nats is the mean of the thresholds chosen on folds 2 and 3's validation
# writers; score's is a round number below the 0.66-1.93 chosen on folds 0, 2 and 3.
THRESHOLDS = {"score": 0.5, "nats": 16.0, "nats_lm": 13.1}
DEFAULT_RANK = "nats_lm"  # chosen on validation writers: it finds typos the others miss (docs/trust.md)
log = logging.getLogger(__name__)
SHIFT_MARGIN = 0.5  # nats per character another row's label must beat this row's by to call the row shifted
CANDIDATES = 5  # other labels of the writer weighed per row: the nearest to the reading by edit distance
COLUMNS = ("file_name", "text", "predicted", "score", "kind", "suggestion", "writer_id", "nats", "lm_nats")
RANKS = ("score", "nats", "nats_lm")  # what rows are ranked and flagged by (rank_value)


@dataclass(frozen=True)
class LabelRow:
    """One row of a labels CSV: its image (path as written and as found) and label."""

    file_name: str
    text: str
    writer_id: str | None
    path: Path


@dataclass(frozen=True)
class Verdict:
    """What the audit says about one row (`nats`: how much less likely the label is than the reading, `score`: the
    same per character of the label; higher = more suspicious)."""

    file_name: str
    text: str
    predicted: str
    score: float
    kind: str
    suggestion: str
    writer_id: str | None
    nats: float = math.inf
    lm_nats: float = 0.0  # log P_LM(reading) - log P_LM(label) under the names LM

    def as_row(self) -> dict[str, str]:
        row = asdict(self)
        for key in ("score", "nats", "lm_nats"):
            row[key] = f"{row[key]:.3f}" if math.isfinite(row[key]) else "inf"
        row["writer_id"] = self.writer_id or ""
        return row


@lru_cache(maxsize=1)
def _names() -> Names:
    """The shipped name lists and their LM, built once per process."""
    return Names()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of one character)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def rank_value(verdict: Verdict, by: str) -> float:
    """What a verdict is ranked and flagged by (one of RANKS)."""
    if by == "nats_lm":
        return verdict.nats + verdict.lm_nats
    if by not in RANKS:
        raise ValueError(f"rank by one of {RANKS}, not {by!r}")
    return float(getattr(verdict, by))


def lm_nats(names: Names, label: str, predicted: str) -> float:
    """How much less likely `label` is than `predicted` as a name, in nats (both with their end). Characters the
    names never hold (digits, brackets, ';' ...) are left out of both first: the LM cannot judge them, and a label
    with a closing bracket its misreading lacks would otherwise look wrong."""
    known = set(names.lm.vocab)
    label, predicted = "".join(c for c in label if c in known), "".join(c for c in predicted if c in known)
    return names.lm_logp(predicted) * (len(predicted) + 1) - names.lm_logp(label) * (len(label) + 1)


def judge(row: LabelRow, predicted: str, log_probs: torch.Tensor, index: dict[str, int],
          others: Sequence[str], names: Names | None = None) -> Verdict:
    """The verdict on one row from its image's log_probs, the model's reading and the writer's other labels;
    `names`: the LM of lm_nats (default: the shipped name lists)."""
    names = names or _names()
    per_char = max(1, len(row.text))
    nll_label, nll_read = label_nll(log_probs, [row.text, predicted], index)
    if not math.isfinite(nll_label):
        missing = "".join(sorted({c for c in row.text if c not in index}))
        kind = f"unknown characters {missing}" if missing else "mismatch"
        return Verdict(row.file_name, row.text, predicted, math.inf, kind, predicted, row.writer_id)
    nats = max(0.0, nll_label - nll_read)
    # nearest first, ties in text order: a set's order changes from one process to the next
    near = sorted({o for o in others if o != row.text}, key=lambda o: (edit_distance(o, predicted), o))[:CANDIDATES]
    if near:
        nll_others = label_nll(log_probs, near, index)
        best = min(range(len(near)), key=lambda k: nll_others[k])
        gain = nll_label - nll_others[best]
        if gain / per_char > SHIFT_MARGIN and edit_distance(near[best], predicted) < edit_distance(row.text, predicted):
            nats = max(nats, gain)
            return Verdict(row.file_name, row.text, predicted, nats / per_char, "shifted", near[best], row.writer_id,
                           nats, lm_nats(names, row.text, predicted))
    label_words, read_words = row.text.split(), predicted.split()
    if row.text == predicted:
        kind = "agrees"
    elif len(read_words) > len(label_words) >= 1 and edit_distance(" ".join(read_words[: len(label_words)]),
                                                                  row.text) <= 1:
        kind = "truncated"
    elif edit_distance(row.text, predicted) <= 2:
        kind = "typo"
    else:
        kind = "mismatch"
    return Verdict(row.file_name, row.text, predicted, nats / per_char, kind, predicted, row.writer_id, nats,
                   lm_nats(names, row.text, predicted))


def writer_labels(rows: Sequence[LabelRow]) -> dict[str | None, list[str]]:
    """writer -> the labels of that writer's rows (rows without a writer left out)."""
    out: dict[str | None, list[str]] = {}
    for r in rows:
        if r.writer_id:
            out.setdefault(r.writer_id, []).append(r.text)
    return out


def judge_readings(rows: Sequence[LabelRow], readings: Sequence[str], log_probs: Sequence[torch.Tensor],
                   tokens: Sequence[str], others: dict[str | None, list[str]] | None = None) -> list[Verdict]:
    """`judge` on every row from its reading and its image's log_probs (T_i, C) under a model of `tokens`;
    `others`: writer -> the labels weighed for a shift (default: the labels of each writer's rows in `rows`; rows
    without a writer are weighed against none)."""
    others = writer_labels(rows) if others is None else others
    index = {c: i for i, c in enumerate(tokens) if c}
    names = _names()
    return [judge(r, text, lp, index, others.get(r.writer_id, []), names)
            for r, text, lp in zip(rows, readings, log_probs)]


def audit(rows: Sequence[LabelRow], reader: Reader, others: dict[str | None, list[str]] | None = None,
          batch_size: int = 32, decoder: Decoder | None = None) -> list[Verdict]:
    """A verdict on every row (in order), its image read by `reader`'s model and `decoder` (default greedy: the
    reading the label is weighed against); `others`: writer -> the labels of that writer's rows (default: from
    `rows`), where a shifted label is looked for."""
    images, errors = load_window([r.path for r in rows], reader.pre)
    readable = [r for k, r in enumerate(rows) if k not in errors]
    decoder = decoder or GreedyDecoder(reader.model.charset.tokens)
    hyps, log_probs = read_batches(images, reader.backend, decoder, batch_size, keep_log_probs=True)
    judged = iter(judge_readings(readable, [h[0].text if h else "" for h in hyps], log_probs,
                                 reader.model.charset.tokens, writer_labels(rows) if others is None else others))
    return [next(judged) if k not in errors else
            Verdict(r.file_name, r.text, "", math.inf, "unreadable", errors[k], r.writer_id)
            for k, r in enumerate(rows)]


def ranked(verdicts: Sequence[Verdict], by: str = "score") -> list[Verdict]:
    """Most suspicious first by `by` (RANKS; ties: in input order)."""
    return sorted(verdicts, key=lambda v: -rank_value(v, by) if math.isfinite(rank_value(v, by)) else -math.inf)


def write_flagged(path: Path, verdicts: Sequence[Verdict]) -> None:
    """The verdicts as a CSV (COLUMNS), in the order given."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(v.as_row() for v in verdicts)


def kind_counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return dict(Counter(v.kind for v in verdicts))


def cer_split(verdicts: Sequence[Verdict], flagged: Sequence[Verdict]) -> dict[str, dict[str, float | int]]:
    """The readings' CER against the labels (character edits over label characters) on every read row, on the rows
    not flagged and on the flagged ones: how much of a test CER the suspect labels make."""
    read = [v for v in verdicts if not v.kind.startswith("unusable")]
    marked = {id(v) for v in flagged}
    return cer_parts([(v.predicted, v.text) for v in read], [id(v) in marked for v in read])


def cer_parts(pairs: Sequence[tuple[str, str]], marked: Sequence[bool]) -> dict[str, dict[str, float | int]]:
    """CER of (reading, label) pairs on all of them, on the ones not marked and on the marked ones."""
    parts = {"all": list(zip(pairs, marked)), "not_flagged": [(p, m) for p, m in zip(pairs, marked) if not m],
             "flagged": [(p, m) for p, m in zip(pairs, marked) if m]}
    out: dict[str, dict[str, float | int]] = {}
    for name, part in parts.items():
        chars = sum(len(label) for (_, label), _ in part)
        edits = sum(edit_distance(reading, label) for (reading, label), _ in part)
        out[name] = {"rows": len(part), "cer": edits / chars if chars else 0.0}
    return out


def read_rows(labels: Path) -> tuple[list[LabelRow], list[Verdict]]:
    """The usable rows of a labels CSV, and a verdict (score inf) for each row that cannot be used."""
    rows, unusable = [], []
    for sample in read_labels_csv(labels):
        name = os.path.relpath(sample.path, labels.parent)
        if sample.problem:
            unusable.append(Verdict(name, sample.text, "", math.inf, f"unusable row ({sample.origin})",
                                    sample.problem, sample.writer_id))
        else:
            rows.append(LabelRow(name, sample.text, sample.writer_id, sample.path))
    return rows, unusable


def audit_csv(labels: Path, ckpt: Path | None = None, shipped: str | None = None,
              judges: Sequence[tuple[Path, Sequence[str]]] | None = None, batch_size: int = 32) -> list[Verdict]:
    """Verdicts on the rows of `labels`, each judged by a model that never trained on it: `ckpt`, the shipped
    recognizer `shipped` (default: recognizer_separable), or with `judges` (checkpoint, the writers it never trained on:
    the writer folds of a cross-validation) each checkpoint on its writers' rows (rows of writers no judge
    covers are left out, with a warning)."""
    rows, verdicts = read_rows(labels)
    others: dict[str | None, list[str]] = {}
    for r in rows:
        others.setdefault(r.writer_id, []).append(r.text)
    if judges is None:
        from htr_lit.assets import MODELS_DIR

        path = ckpt or MODELS_DIR / f"{shipped or 'recognizer_separable'}.ckpt"
        reader = Reader(path, batch_size=batch_size)
        _warn_if_trained_on(reader, path, rows)
        return verdicts + audit(rows, reader, others, batch_size)
    judged: set[int] = set()
    for path, writers in judges:
        mine = [k for k, r in enumerate(rows) if r.writer_id in set(writers) and k not in judged]
        if mine:
            log.info("%s: %d rows of writers %s", path, len(mine), ", ".join(writers))
            verdicts += audit([rows[k] for k in mine], Reader(path, batch_size=batch_size), others, batch_size)
            judged.update(mine)
    if len(judged) < len(rows):
        log.warning("%s: %d of %d rows belong to writers no model left out of its training: not judged", labels,
                    len(rows) - len(judged), len(rows))
    return verdicts


def _warn_if_trained_on(reader: Reader, ckpt: Path, rows: Sequence[LabelRow]) -> None:
    from htr_lit.data.overlap import overlap_warning
    from htr_lit.data.sample import Sample

    samples = [Sample(path=r.path, text=r.text, writer_id=r.writer_id) for r in rows]
    warning = overlap_warning(reader.model.htr_meta, ckpt, samples)
    if warning:
        log.warning("%s (an audit needs a model that never saw the rows: --cv with writer folds)",
                    warning.replace("the test set", "the labels"))
