"""CER against the number of a writer's own words a fold model is adapted on (`htr-adapt`'s recipe), for writers the
model never trained on.

    python -m htr_lit.cv.adapt_curve --cv outputs/cv/separable_oof --fold 0 [--writers test|val] [--k 10,25,50,100]
        [--pool 100] [--set recipe.lr=1e-4 ...] [--ckpt PATH] --out docs/adaptation/fold0_test.json

For each writer of the fold's test (or validation) writers, a seeded shuffle of the writer's words gives a pool (the
first `--pool`) and the words scored (all the others, the same for every k). The fold's model reads the scored words
once (before); for every k a fresh copy is adapted on the pool's first k words, as htr-adapt adapts (its held-out
share of the k words included), and reads them again (after). `--ckpt` adapts another model on the same writers'
words (e.g. the shipped recognizer). Re-running continues: writer x k results already in `--out` are kept; a record
made with other settings or another recipe (a setting of conf/adapt.yaml it names with another value) is refused.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate

from htr_lit.config import compose_config, shown_path
from htr_lit.cv.folds import fold_list
from htr_lit.cv.summary import finished_fold
from htr_lit.data.real.dhsd import dhsd_labels

SCORED_MIN = 20  # a writer with fewer words left to score than this is skipped


def writer_split(samples: list[Any], pool: int, seed: int, writer: str) -> tuple[list[Any], list[Any]]:
    """(pool, scored): a shuffle seeded by the seed and the writer, its first `pool` words and the rest."""
    order = list(range(len(samples)))
    random.Random(f"{seed}:{writer}").shuffle(order)
    return [samples[i] for i in order[:pool]], [samples[i] for i in order[pool:]]


def shift_labels(words: Any, share: float, seed: int) -> tuple[Any, int]:
    """`words` with a seeded `share` of them given another of these words' label (a shifted label, as real sets go
    wrong); (the words, how many were changed)."""
    from dataclasses import replace

    from htr_lit.adaptation.finetune import Words

    n = round(share * len(words))
    if n < 2:
        return words, 0
    picked = random.Random(f"noise:{seed}").sample(range(len(words)), n)
    samples = list(words.samples)
    for a, b in zip(picked, picked[1:] + picked[:1]):  # a cycle: each picked word takes the next one's label
        samples[a] = replace(words.samples[a], text=words.samples[b].text)
    return Words(samples, list(words.images)), sum(samples[i].text != words.samples[i].text for i in picked)


def pooled(rows: list[dict[str, Any]], k: int) -> dict[str, Any] | None:
    """The k's figures over its writers: CER with errors summed over every scored word (from each writer's
    character errors), the mean and worst per-writer relative change, and the median adaptation time."""
    at_k = [r for r in rows if r["k"] == k]
    if not at_k:
        return None
    chars = sum(r["chars"] for r in at_k)
    before = sum(r["before"]["cer"] * r["chars"] for r in at_k) / chars
    after = sum(r["after"]["cer"] * r["chars"] for r in at_k) / chars
    changes = [(r["after"]["cer"] - r["before"]["cer"]) / max(r["before"]["cer"], 1e-9) for r in at_k]
    times = sorted(r["time_s"] for r in at_k)
    return {"k": k, "writers": len(at_k), "cer_before": round(before, 5), "cer_after": round(after, 5),
            "relative_reduction": round(1 - after / before, 4) if before else None,
            "mean_writer_change": round(sum(changes) / len(changes), 4), "worst_writer_change": round(max(changes), 4),
            "writers_worse": sum(r["after"]["cer"] > r["before"]["cer"] for r in at_k),
            "median_time_s": times[len(times) // 2]}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.adapt_curve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cv", type=Path, required=True, help="a writer cross-validation folder (python -m htr_lit.cv)")
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--writers", choices=("test", "val"), default="test",
                   help="the fold's test writers (report) or validation writers (choosing the recipe)")
    p.add_argument("--k", type=fold_list, default=[10, 25, 50, 100], help="words adapted on, e.g. 10,25,50,100")
    p.add_argument("--pool", type=int, default=100, help="words per writer that k is drawn from (the rest are scored)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="conf/adapt.yaml overrides, e.g. recipe.lr=1e-4 recipe.steps=300 holdout=0")
    p.add_argument("--ckpt", type=Path, default=None, help="adapt this model instead of the fold's own")
    p.add_argument("--csv", type=Path, default=None, help="the labels CSV (default: DHSD's, $HTR_DHSD_DIR)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="share of the k words given another of the k words' label (robustness to wrong labels)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", type=Path, required=True, help="the record (JSON); re-running continues it")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    import torch

    from htr_lit.adaptation.finetune import rounded
    from htr_lit.adaptation.run import adapt_words
    from htr_lit.adaptation.words import read_words
    from htr_lit.checkpoint import load_model
    from htr_lit.inference.scoring import figures

    torch.set_num_threads(args.threads)
    fold, fold_ckpt = finished_fold(args.cv, args.fold)
    ckpt = args.ckpt or fold_ckpt
    cfg = compose_config("adapt", ["labels=-", "out=-", *args.set])
    settings = {"cv": shown_path(args.cv), "fold": args.fold, "writers": args.writers, "ckpt": shown_path(ckpt),
                "pool": args.pool, "seed": args.seed, "set": list(args.set), "noise": args.noise}
    record: dict[str, Any] = {"rows": []}
    if args.out.is_file():
        record = json.loads(args.out.read_text())
        if record.get("settings") != settings:
            raise SystemExit(f"error: {args.out} was made with other settings ({record.get('settings')}); "
                             "give another --out")
        changed = recipe_changes(record.get("recipe") or {}, dict(cfg.recipe))
        if changed:
            raise SystemExit(f"error: {args.out} was made with another recipe ({', '.join(changed)}): name the "
                             "record's values with --set (e.g. --set recipe.steps=150), or give another --out")
    command = shlex.join(["python", "-m", "htr_lit.cv.adapt_curve", *argv])
    earlier = record.get("commands") or ([record["command"]] if "command" in record else [])
    record.update({"command": command, "commands": list(dict.fromkeys([*earlier, command])),
                   "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, {args.threads} "
                              "torch thread(s)",
                   "settings": settings, "recipe": dict(cfg.recipe), "holdout": cfg.holdout,
                   "min_holdout_words": cfg.min_holdout_words, "refit": cfg.refit,
                   "suspect_labels": cfg.get("suspect_labels"),
                   "suspect_labels_for": cfg.get("suspect_labels_for", "all")})
    done = {(r["writer"], r["k"]) for r in record["rows"]}
    base, pre = load_model(ckpt)
    writers = fold.test_writers if args.writers == "test" else fold.val_writers
    words = read_words(args.csv or dhsd_labels(), pre, on_error="skip", writers=set(writers))
    for writer in writers:
        mine = [i for i, s in enumerate(words.samples) if s.writer_id == writer]
        pool, scored = writer_split(mine, args.pool, args.seed, writer)
        if len(scored) < SCORED_MIN:
            print(f"writer {writer}: {len(scored)} words left to score, skipped")
            continue
        scored_words = words.subset(scored)
        before = None
        for k in args.k:
            if (writer, k) in done or k > len(pool):
                continue
            if before is None:
                before = figures(*_read(base, pre, scored_words))
            model = copy.deepcopy(base)
            start = time.perf_counter()
            train = words.subset(pool[:k])
            train, wrong = shift_labels(train, args.noise, args.seed)
            adapted = adapt_words(model, pre, train, instantiate(cfg.recipe), float(cfg.holdout),
                                  int(cfg.min_holdout_words), str(cfg.new_chars), seed=args.seed,
                                  refit=bool(cfg.refit), suspect_labels=cfg.get("suspect_labels"),
                                  suspect_for=str(cfg.get("suspect_labels_for", "all")))
            seconds = time.perf_counter() - start
            after = figures(*_read(model, pre, scored_words))
            chars = sum(len(s.text) for s in scored_words.samples)
            row = {"writer": writer, "k": k, "scored": len(scored), "chars": chars,
                   "before": rounded(before), "after": rounded(after), "step": adapted.outcome.step,
                   "new_chars": adapted.new_chars, "wrong_labels": wrong, "time_s": round(seconds, 1)}
            record["rows"].append(row)
            print(f"writer {writer} k={k}: CER {100 * before['cer']:.2f} -> {100 * after['cer']:.2f} % on "
                  f"{len(scored)} words (step {row['step']}, {seconds:.0f} s)", flush=True)
            record["pooled"] = pooled_by_k(record["rows"])
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    record["pooled"] = pooled_by_k(record["rows"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    for p in record["pooled"]:
        print(f"k={p['k']}: {p['writers']} writers, CER {100 * p['cer_before']:.2f} -> {100 * p['cer_after']:.2f} % "
              f"(relative reduction {100 * (p['relative_reduction'] or 0):.1f} %, {p['writers_worse']} writers worse, "
              f"median {p['median_time_s']:.0f} s)")
    print(f"written {args.out}")
    return 0


def recipe_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """'key: recorded -> current' for every recipe setting the record names that the run would set otherwise (a
    setting the record lacks is new in the recipe and not compared)."""
    return [f"{key}: {recorded[key]!r} -> {current[key]!r}" for key in recorded
            if key in current and recorded[key] != current[key]]


def pooled_by_k(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pooled figures of every k the record holds (a run continued with other --k keeps the earlier ones)."""
    return [p for k in sorted({r["k"] for r in rows}) if (p := pooled(rows, k))]


def _read(model: Any, pre: Any, words: Any) -> tuple[list[str], list[str]]:
    from htr_lit.adaptation.finetune import loader, read

    return read(model, loader(words, model, pre, 64, None, 0))


if __name__ == "__main__":
    sys.exit(main())
