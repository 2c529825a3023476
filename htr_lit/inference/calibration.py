"""A word confidence that is a probability: P(the reading is exactly right), from what the model already knows.

Each reading is described by features (FEATURE_NAMES) of its CTC posterior (log_probs (T, C) of its image) and its
text:
- the posterior: the mean best-frame log-probability, the weakest character (the lowest of each emitted character's
  best frame probability, in log), the smallest and the mean margin between the best and the second-best class of
  a frame, and `text_logp`, log P(text | image) summed over every CTC alignment of the text (the best path is one);
- the text: its length; `lm_logp`, the mean log-probability per character under a character 4-gram LM of the
  shipped name lists (htr_lit/assets/names: German places, first and last names); `known_word`, whether the text
  is one of those names. Only the shipped lists, never a checkpoint's training texts: a shipped checkpoint carries
  none, and the features must mean the same where the calibration is fitted (fold models) and where it is used;
- the test-time stretch (predict's `tta`, htr_lit/inference/tta.py), for the fused reading: `stretch_logp`, its mean
  CTC log-likelihood over the stretches (the fused score), and `stretch_agree`, the share of stretches whose own
  best text it is. A calibration with these is stored apart (TTA_KEY, with its width factors) and used only when
  predict reads with those factors;
- another decoder's reading (beam search, the names LM): `beam_margin`, how far its best hypothesis's score is
  above the runner-up's (capped at MARGIN_CAP; the cap without a runner-up), so the decoder must keep two
  (`Calibration.top_n`). A calibration of such readings is stored apart too (DECODER_KEY, with the decoder's name
  and options) and used only when the decoder is configured the same way.
A logistic regression on some of them (the record names which), fitted on words of writers the model never trained
on (a writer fold's validation writers, or out-of-fold readings), maps them to the probability; the fitted weights
travel in the checkpoint (`htr_lit.calibration`), so that predict needs nothing else. The calibration is fitted on
greedy readings; a reading of another decoder (beam, LM, lexicon) gets the checkpoint's calibration of that decoder
if it carries one, else P(text | image) under CTC (`CtcConfidence`; `word_confidence` picks which, for predict, eval
and inspect alike).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

POSTERIOR = ("mean_frame_logp", "weakest_char_logp", "min_margin", "mean_margin", "log_length")
TEXT = ("text_logp", "lm_logp", "known_word")
PLAIN = (*POSTERIOR, *TEXT)  # every feature of one plain reading
STRETCH = ("stretch_logp", "stretch_agree")  # features of a reading fused over width stretches
DECODER = ("beam_margin",)  # features of another decoder's reading (its n-best list)
FEATURE_NAMES = (*PLAIN, *STRETCH, *DECODER)
FEATURES = POSTERIOR  # what `calibrate` fits unless told otherwise
META_KEY = "calibration"
TTA_KEY = "calibration_tta"  # the calibration of predict's `tta` readings (stretch features, its factors)
DECODER_KEY = "calibration_decoders"  # calibrations of other decoders' readings, each with its decoder and options
MARGIN_CAP = 20.0  # beam_margin's ceiling (nats): beyond it the runner-up is out of sight
UNMATCHED_OPTIONS = ("top_n", "lm_cache_dir")  # decoder options that change no reading (predict sets top_n)
LM_ORDER = 4

if TYPE_CHECKING:
    from htr_lit.decoding.base import Hypothesis
    from htr_lit.inference.tta import StretchReading


class Names:
    """What a reading's text is weighed against: known names (default: the shipped name lists) as a set and as a
    character LM (fitted on first use, about 0.1 s)."""

    def __init__(self, texts: Iterable[str] | None = None) -> None:
        if texts is None:
            from htr_lit.assets import NAMES_DIR

            files = sorted(NAMES_DIR.glob("*.txt"))
            lines = [line.strip() for p in files for line in p.read_text("utf-8").splitlines()]
            texts = [line for line in lines if line and not line.startswith("#")]
        self.known = frozenset(texts)

    @cached_property
    def lm(self) -> Any:
        from htr_lit.decoding.lm import CharNgramLM

        return CharNgramLM(order=LM_ORDER).fit(sorted(self.known))

    def lm_logp(self, text: str) -> float:
        """Mean log-probability per symbol of `text` (and its end) under the LM."""
        lm, state, total = self.lm, self.lm.initial_state(), 0.0
        for char in text:
            total += float(lm.log_probs_state(state)[lm.symbol_index(char)])
            state = lm.advance(state, char)
        total += float(lm.log_probs_state(state)[lm.end_index])
        return total / (len(text) + 1)


def _posterior(lp: torch.Tensor, text: str) -> list[float]:
    """The POSTERIOR features of one reading from its log_probs (T, C), blank at 0."""
    if lp.shape[0] == 0:
        return [0.0, 0.0, 0.0, 0.0, math.log1p(len(text))]
    top = lp.topk(min(2, lp.shape[1]), dim=-1).values  # (T, 2)
    margin = top[:, 0] - top[:, -1]
    path = lp.argmax(-1)  # (T,)
    best = top[:, 0]
    starts = torch.ones_like(path, dtype=torch.bool)  # (T,) where a run of one best-path class begins
    starts[1:] = path[1:] != path[:-1]
    run = torch.cumsum(starts.long(), 0) - 1  # (T,) run index of each frame
    run_best = torch.full((int(run[-1]) + 1,), -math.inf).scatter_reduce(0, run, best, reduce="amax")  # (runs,)
    emitted = run_best[path[starts] != 0]  # each emitted character's best frame
    weakest = min(0.0, float(emitted.min())) if len(emitted) else 0.0
    return [float(best.mean()), weakest, float(margin.min()), float(margin.mean()), math.log1p(len(text))]


def label_nll(log_probs: torch.Tensor, texts: Sequence[str], index: dict[str, int]) -> list[float]:
    """-log P(text | image) under CTC for each text, from one image's log_probs (T, C); inf for a text with a
    character outside the charset or longer than the frames allow."""
    out = [math.inf] * len(texts)
    known = [k for k, t in enumerate(texts) if all(c in index for c in t)]
    if not known:
        return out
    t = log_probs.shape[0]
    inputs = log_probs.float().unsqueeze(1).expand(t, len(known), log_probs.shape[1])  # (T, K, C)
    labels = [[index[c] for c in texts[k]] for k in known]
    targets = torch.tensor([i for lab in labels for i in lab], dtype=torch.long)
    loss = F.ctc_loss(inputs, targets, torch.full((len(known),), t, dtype=torch.long),
                      torch.tensor([len(lab) for lab in labels], dtype=torch.long), blank=0, reduction="none",
                      zero_infinity=False)
    for k, value in zip(known, loss.tolist()):
        out[k] = value
    return out


def text_logp(lp: torch.Tensor, text: str, index: dict[str, int]) -> float:
    """log P(text | image) under CTC (every alignment), from log_probs (T, C); a text the model cannot write (or
    too long for the frames) gets -1e4, the empty text log P(all blank)."""
    if lp.shape[0] == 0:
        return 0.0 if not text else -1e4
    nll = label_nll(lp, [text], index)[0]
    return -nll if math.isfinite(nll) else -1e4


def word_features(log_probs: torch.Tensor, text: str, names: Sequence[str] = FEATURES,
                  tokens: Sequence[str] | None = None, known: Names | None = None,
                  index: dict[str, int] | None = None, stretch: StretchReading | None = None,
                  score: float | None = None, runner_up: float | None = None) -> list[float]:
    """The features `names` of one reading from its image's log_probs (T, C), blank at 0, and its text (the greedy
    one, the fused one of `stretch`, or a decoder's best); `tokens` (the model's charset, or its `index` character ->
    class made once) for text_logp, `known` for lm_logp and known_word, `stretch` (the image read at every width
    stretch) for stretch_logp and stretch_agree, the decoder's `score` of the text and of its `runner_up` (None: the
    decoder found no other) for beam_margin."""
    lp = log_probs.float()
    values: dict[str, float] = dict(zip(POSTERIOR, _posterior(lp, text)))
    if "text_logp" in names:
        if index is None and tokens is None:
            raise ValueError("text_logp needs the model's tokens")
        index = index if index is not None else {c: i for i, c in enumerate(tokens or ()) if c}
        values["text_logp"] = text_logp(lp, text, index)
    if "lm_logp" in names or "known_word" in names:
        if known is None:
            raise ValueError("lm_logp and known_word need the known names")
        values["lm_logp"] = known.lm_logp(text)
        values["known_word"] = float(text in known.known)
    if set(STRETCH) & set(names):
        if stretch is None:
            raise ValueError("stretch_logp and stretch_agree need the reading at every width stretch (tta)")
        values["stretch_logp"] = stretch.hypotheses[0].score if stretch.hypotheses else -1e4
        values["stretch_agree"] = stretch.agreement
    if "beam_margin" in names:
        if score is None:
            raise ValueError("beam_margin needs the decoder's score of the reading")
        values["beam_margin"] = beam_margin(score, runner_up)
    return [values[n] for n in names]


def beam_margin(score: float, runner_up: float | None) -> float:
    """How far a decoder's best score is above its runner-up's, in [0, MARGIN_CAP] (the cap without a runner-up)."""
    if runner_up is None or not math.isfinite(runner_up):
        return MARGIN_CAP
    return min(max(score - runner_up, 0.0), MARGIN_CAP)


def runner_ups(hypotheses: Sequence[Sequence[Hypothesis]]) -> list[float | None]:
    """The second-best score of each image's best-first hypotheses (None where the decoder gave one)."""
    return [h[1].score if len(h) > 1 else None for h in hypotheses]


def fit(features: Sequence[Sequence[float]], correct: Sequence[bool], names: Sequence[str] = FEATURES,
        l2: float = 1e-2, steps: int = 50) -> dict[str, Any]:
    """Logistic regression (Newton's method, L2 on the weights) on standardised features (columns `names`); the
    checkpoint record."""
    x = np.asarray(features, float)
    y = np.asarray(correct, float)
    if x.shape[1] != len(names):
        raise ValueError(f"{x.shape[1]} feature columns for {len(names)} names {list(names)}")
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # (N, F + 1), the last column the bias
    w = np.zeros(z.shape[1])
    reg = l2 * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + reg + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return {"features": list(names), "mean": mean.tolist(), "std": std.tolist(), "weights": w[:-1].tolist(),
            "bias": float(w[-1]), "words": len(y)}


def probability(record: dict[str, Any], features: Sequence[Sequence[float]]) -> np.ndarray:
    """P(right) of each reading under a fitted record (features in the record's order)."""
    x = np.asarray(features, float).reshape(len(features), -1)
    if x.shape[1] != len(record["features"]):
        raise ValueError(f"calibration for features {record['features']}, got {x.shape[1]} columns")
    z = (x - np.asarray(record["mean"])) / np.asarray(record["std"])
    return 1 / (1 + np.exp(-(z @ np.asarray(record["weights"]) + record["bias"])))


class Calibration:
    """A checkpoint's calibration record, ready to turn readings into P(right)."""

    def __init__(self, record: dict[str, Any], tokens: Sequence[str]) -> None:
        unknown = sorted(set(record["features"]) - set(FEATURE_NAMES))
        if unknown:
            raise ValueError(f"calibration with features this code does not compute: {unknown}")
        self.record, self.names = record, tuple(record["features"])
        self.index = {c: i for i, c in enumerate(tokens) if c}  # character -> class, for text_logp
        self.known = Names() if {"lm_logp", "known_word"} & set(self.names) else None

    @property
    def factors(self) -> tuple[float, ...] | None:
        """The width stretches the calibration was fitted on (None: plain readings)."""
        return tuple(self.record["tta"]) if self.record.get("tta") else None

    @property
    def top_n(self) -> int:
        """The hypotheses a reading's decoder must keep for these features (2 for beam_margin)."""
        return 2 if "beam_margin" in self.names else 1

    def __call__(self, log_probs: Sequence[torch.Tensor], texts: Sequence[str],
                 stretch: Sequence[StretchReading] | None = None, scores: Sequence[float] | None = None,
                 runner_up: Sequence[float | None] | None = None) -> list[float]:
        """P(right) of each reading: its image's log_probs (T, C), its text; `stretch` for a tta calibration, the
        decoder's `scores` of the texts and of each `runner_up` (calibration.runner_ups) for a decoder's."""
        if not texts:
            return []
        n = len(texts)
        views = stretch if stretch is not None else [None] * n
        best, second = (scores if scores is not None else [None] * n), (runner_up or [None] * n)
        feats = [word_features(lp, t, self.names, known=self.known, index=self.index, stretch=v, score=s,
                               runner_up=r) for lp, t, v, s, r in zip(log_probs, texts, views, best, second)]
        return probability(self.record, feats).tolist()


def calibration_of(model: Any, tta: Sequence[float] | None = None) -> Calibration | None:
    """The calibration a loaded model's checkpoint carries for plain readings, or with `tta` for readings fused
    over those width factors (None without one, or when it was fitted on other factors)."""
    record = model.htr_meta.get(TTA_KEY if tta else META_KEY)
    if record is None or (tta and tuple(record.get("tta") or ()) != tuple(tta)):
        return None
    return Calibration(record, model.charset.tokens)


class CtcConfidence:
    """The raw word confidence of another decoder's reading (beam, LM, lexicon): P(text | image) under the CTC
    posterior, every alignment of the text summed, in [0, 1]. Such a decoder's own score mixes in an LM and a
    length bonus and is no probability (exp of it can pass 1). Same call as a Calibration; no fit behind it."""

    def __init__(self, tokens: Sequence[str], factors: Sequence[float] | None = None) -> None:
        self.index = {c: i for i, c in enumerate(tokens) if c}
        self.factors = tuple(factors) if factors else None

    top_n = 1

    def __call__(self, log_probs: Sequence[torch.Tensor], texts: Sequence[str],
                 stretch: Sequence[StretchReading] | None = None, scores: Sequence[float] | None = None,
                 runner_up: Sequence[float | None] | None = None) -> list[float]:
        return [math.exp(text_logp(lp, t, self.index)) for lp, t in zip(log_probs, texts)]


def same_options(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two decoders' options read alike (UNMATCHED_OPTIONS aside; 1 and 1.0 are the same)."""
    def norm(d: dict[str, Any]) -> str:
        kept = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for k, v in d.items() if k not in UNMATCHED_OPTIONS}
        return json.dumps(kept, sort_keys=True, default=str)

    return norm(a) == norm(b)


def decoder_calibration(model: Any, decoder: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The calibration record a loaded model's checkpoint carries for readings of `decoder` with `options` (None
    without one)."""
    for record in model.htr_meta.get(DECODER_KEY) or ():
        if record.get("decoder") == decoder and same_options(record.get("options") or {}, options):
            return record
    return None


def word_confidence(model: Any, decoder: str, tta: Sequence[float] | None = None,
                    options: dict[str, Any] | None = None) -> Calibration | CtcConfidence | None:
    """What predict, eval and inspect give as a reading's confidence: with greedy decoding the checkpoint's
    calibration (None without one: exp of the best path's log-probability, a probability too); with any other
    decoder `decoder` (its `options`, calibration DECODER_KEY), the checkpoint's calibration of that decoder so
    configured, else P(text | image) under CTC (CtcConfidence)."""
    if decoder == "greedy":
        return calibration_of(model, tta)
    record = decoder_calibration(model, decoder, options or {}) if not tta else None
    if record is not None:
        return Calibration(record, model.charset.tokens)
    return CtcConfidence(model.charset.tokens, tta)


def hypotheses_needed(calibration: Calibration | CtcConfidence | None) -> int:
    """How many hypotheses an image's decoder must keep for its confidence (2 when it weighs the runner-up)."""
    return calibration.top_n if calibration is not None else 1


def confidence_kind(calibration: Calibration | CtcConfidence | None) -> str:
    """How a confidence was made: `calibrated` (a fitted P(right)), `ctc` (P(text | image) of a non-greedy reading)
    or `raw` (exp of the greedy path's log-probability: the checkpoint carries no calibration)."""
    if calibration is None:
        return "raw"
    return "ctc" if isinstance(calibration, CtcConfidence) else "calibrated"


def confidences(calibration: Calibration | CtcConfidence | None, log_probs: Sequence[torch.Tensor],
                texts: Sequence[str], scores: Sequence[float], stretch: Sequence[StretchReading] | None = None,
                runner_up: Sequence[float | None] | None = None) -> list[float]:
    """Each reading's word confidence: its calibrated P(right) (`stretch`: the readings fused over width stretches,
    for a tta calibration; `runner_up`: the decoder's second-best scores, for a decoder's), or without a calibration
    the raw exp of the reading's log-score (what predict prints then)."""
    if calibration is None:
        return [math.exp(s) for s in scores]
    return calibration(log_probs, texts, stretch=stretch, scores=scores, runner_up=runner_up)
