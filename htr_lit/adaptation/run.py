"""One adaptation, as `htr-adapt` runs it and the k-curve measures it: words checked against the model's charset
(grown or refused), unalignable labels left out, some words held out to choose the number of steps and to measure
CER before / after, the fine-tuning loop, and (`refit`) the same number of steps again on all the words."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace

from htr_lit.adaptation.charset_growth import grow_charset, missing_chars
from htr_lit.adaptation.finetune import Outcome, Recipe, Words, finetune
from htr_lit.adaptation.words import AdaptDataError, drop_suspect, drop_unalignable, split_holdout
from htr_lit.data.preprocess import Preprocess
from htr_lit.models.module import HTRModule

log = logging.getLogger("htr_lit.adapt")
MIN_WORDS = 5  # fewer labelled words than this give nothing to fine-tune on
NEW_CHARS = ("extend", "refuse")
SUSPECT_FOR = ("small", "all")  # the sets the suspect-label filter applies to: too small to hold out, or every one


@dataclass
class Adapted:
    """What one adaptation trained on, held out and added, and what the loop did (`outcome`: the run that held words
    out; `refit`: whether the kept weights were then trained again on every word for the step count it chose)."""

    train: Words
    held: Words | None
    new_chars: list[str]
    outcome: Outcome
    refit: bool = False


def with_new_chars(model: HTRModule, words: Words, policy: str) -> list[str]:
    """Grow the model's charset by the characters of `words` it cannot write (`policy` extend, said on stderr), or
    refuse them naming the characters and rows (`policy` refuse). Returns the characters added."""
    new = missing_chars(model.charset, words.texts)
    if not new:
        return []
    rows = [s.origin or str(s.path) for s in words.samples if model.charset.unknown(s.text)]
    where = ", ".join(rows[:3]) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
    if policy == "refuse":
        raise AdaptDataError(f"characters the model cannot write: {''.join(new)!r} (in {where}); new_chars=extend "
                             "adds them to its output layer, or leave those rows out")
    grow_charset(model, new)
    log.warning("the model could not write %r (in %s): its output layer grew by %d character(s), learnt from your "
                "words only", "".join(new), where, len(new))
    return new


def _without_suspects(words: Words, model: HTRModule, pre: Preprocess, threshold: float, why: str) -> Words:
    kept, dropped = drop_suspect(words, model, pre, threshold, min_kept=MIN_WORDS)
    if dropped:
        log.warning("%d word(s) left out: their label looks wrong to the model (%s; suspect_labels=null keeps "
                    "them):\n  %s", len(dropped), why, "\n  ".join(dropped))
    return kept


def adapt_words(model: HTRModule, pre: Preprocess, words: Words, recipe: Recipe, holdout: float,
                min_holdout_words: int, new_chars: str = "extend", seed: int = 0, progress: bool = False,
                refit: bool = True, suspect_labels: float | None = None, suspect_for: str = "all") -> Adapted:
    """Fine-tune `model` in place on `words` (see the module docstring). With held-out words and `refit`, the model
    kept is a second fine-tuning of the base on all the words for the step count the held-out words chose (none:
    the base stays as it is when no step read them better). Too few words to hold any out: with `suspect_labels`
    (nats per character), the words whose label the base finds that much less likely than its reading are left
    out first (a wrong label in a set this small is what the held-out words would otherwise catch);
    `suspect_for="all"` (the default) leaves them out of every set, before any word is held out."""
    if new_chars not in NEW_CHARS:
        raise ValueError(f"new_chars={new_chars}: choose extend or refuse")
    new = with_new_chars(model, words, new_chars)
    words = drop_unalignable(words, model)
    if len(words) < MIN_WORDS:
        raise AdaptDataError(f"{len(words)} usable word(s); adaptation needs at least {MIN_WORDS} (10-500 labelled "
                             "words of your hand are the intended use)")
    if suspect_for not in SUSPECT_FOR:
        raise ValueError(f"suspect_for={suspect_for}: choose {' or '.join(SUSPECT_FOR)}")
    first = suspect_labels is not None and suspect_for == "all"
    if first:
        words = _without_suspects(words, model, pre, suspect_labels, "suspect_labels_for=all")
    train, held = split_holdout(words, holdout, min_holdout_words, seed)
    if held is None:  # no held-out words to stop it: the shorter run (many steps on a few words overfit them)
        recipe = replace(recipe, steps=min(recipe.steps, recipe.steps_without_holdout))
    if held is None and suspect_labels is not None and not first:
        train = _without_suspects(train, model, pre, suspect_labels, "too few words to hold any out and check")
    base = copy.deepcopy(model) if refit and held is not None else None
    outcome = finetune(model, pre, train, held, recipe, seed=seed, progress=progress)
    if base is None:
        return Adapted(train, held, new, outcome)
    if outcome.step > 0:
        finetune(base, pre, words, None, replace(recipe, steps=outcome.step), seed=seed, progress=progress)
    model.load_state_dict(base.state_dict())
    return Adapted(words, held, new, outcome, refit=True)
