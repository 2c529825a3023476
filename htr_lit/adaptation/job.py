"""One `htr-adapt` run from its config: load the base, read and check the words, adapt (`run.adapt_words`), save
`adapted.ckpt` with the base's metadata and the adaptation record, write `adapt.json`, say what happened on stderr.
The entry point (`htr_lit/adapt.py`) and the adaptation benchmark run it."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from htr_lit.adaptation.finetune import Recipe, Words, rounded
from htr_lit.adaptation.run import NEW_CHARS, Adapted, adapt_words
from htr_lit.adaptation.words import read_words
from htr_lit.assets import MODELS_DIR
from htr_lit.checkpoint import load_model, save
from htr_lit.data.overlap import IMAGES_KEY, WRITERS_KEY, training_record
from htr_lit.errors import ConfigError
from htr_lit.models.module import HTRModule

log = logging.getLogger("htr_lit.adapt")
CKPT_NAME, RECORD_NAME = "adapted.ckpt", "adapt.json"


def base_name(ckpt_path: str | Path) -> str:
    """How the record names the base model: `shipped:NAME` for a shipped one, else the path as given."""
    path = Path(ckpt_path).expanduser()
    return f"shipped:{path.stem}" if path.resolve().parent == MODELS_DIR.resolve() else str(ckpt_path)


def adapted_meta(model: HTRModule, train: Words, record: dict[str, Any]) -> dict[str, Any]:
    """The base's metadata plus the words trained on: their texts (decoders' LMs), writers and image digests (eval's
    overlap warning), and the adaptation record."""
    meta = dict(model.htr_meta)
    meta["train_texts"] = list(meta.get("train_texts", [])) + train.texts
    own = training_record(train.samples)
    if WRITERS_KEY in meta and IMAGES_KEY in meta:
        own[WRITERS_KEY] = sorted(set(meta[WRITERS_KEY]) | set(own[WRITERS_KEY]))
        own[IMAGES_KEY] = torch.unique(torch.cat([torch.as_tensor(meta[IMAGES_KEY]), own[IMAGES_KEY]]))
    meta.update(own)
    meta["adaptation"] = record
    return meta


def summary(done: Adapted) -> str:
    """One line on what adaptation did."""
    outcome = done.outcome
    if outcome.before is None or outcome.after is None or done.held is None:
        return (f"adapted on {len(done.train)} words, {outcome.step} steps (fewer words than min_holdout_words: none "
                "held out, no CER before/after)")
    held = len(done.held)
    others = len(done.train) - held if done.refit else len(done.train)
    kept = "the base read them best: kept unchanged" if outcome.step == 0 else f"best after {outcome.step} steps"
    then = f"; then {outcome.step} steps on all {len(done.train)} words" if done.refit and outcome.step else ""
    return (f"on {held} held-out words, adapted on the other {others}: CER {100 * outcome.before['cer']:.1f} % -> "
            f"{100 * outcome.after['cer']:.1f} %, word accuracy {100 * outcome.before['word_acc']:.0f} % -> "
            f"{100 * outcome.after['word_acc']:.0f} % ({kept}){then}")


def adapt(cfg: DictConfig) -> dict[str, Any]:
    """Load the base, read and check the words, grow the charset if needed, fine-tune, save; returns the record."""
    for key in ("labels", "out"):
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(f"{key}= is required (htr-adapt labels=LABELS.csv out=DIR; --help for more)")
    if cfg.new_chars not in NEW_CHARS:
        raise ConfigError(f"new_chars={cfg.new_chars}: choose {' or '.join(NEW_CHARS)}")
    recipe: Recipe = instantiate(cfg.recipe)
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    start = time.perf_counter()
    model, pre = load_model(cfg.ckpt_path)
    words = read_words(cfg.labels, pre, cfg.get("image_root"), bool(cfg.get("allow_absolute")), cfg.on_error)
    progress = sys.stderr.isatty() if cfg.get("progress") is None else bool(cfg.progress)
    done = adapt_words(model, pre, words, recipe, float(cfg.holdout), int(cfg.min_holdout_words), cfg.new_chars,
                       seed=int(cfg.seed), progress=progress, refit=bool(cfg.refit),
                       suspect_labels=cfg.get("suspect_labels"),
                       suspect_for=str(cfg.get("suspect_labels_for", "all")))
    train, held, outcome = done.train, done.held, done.outcome
    record = {
        "base": base_name(cfg.ckpt_path),
        "words": len(train) if done.refit else len(train) + (len(held) if held is not None else 0),
        "train_words": len(train),  # what the saved model trained on (all the words after a refit)
        "held_out_words": len(held) if held is not None else 0,
        "refit": done.refit,
        "new_chars": done.new_chars,
        "step": outcome.step,
        "before": rounded(outcome.before),
        "after": rounded(outcome.after),
        "curve": outcome.curve,
        "recipe": outcome.recipe,
        "seed": int(cfg.seed),
        "time_s": round(time.perf_counter() - start, 1),
    }
    out = Path(cfg.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    model.htr_meta = adapted_meta(model, train, record)
    save(model, out / CKPT_NAME)
    (out / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(summary(done), file=sys.stderr)
    print(f"wrote {out / CKPT_NAME} ({record['time_s']:.0f} s); read with: htr-predict input=... "
          f"ckpt_path={out / CKPT_NAME}", file=sys.stderr)
    return record
