"""Where a recipe's errors are, out of fold: each fold's model reads its own test writers, and every character edit
is given a kind (htr_lit.analysis.edit_kinds: diacritic, case, letter, missing, extra, separator), per fold and
pooled, with the CER left if a kind were always read right.

    python -m htr_lit.cv.error_kinds --cv outputs/cv/separable_oof --folds 0,1,2,3,4 \\
        --flagged docs/audit/dhsd_folds_0_1_2_3_4_flagged.csv --out docs/errors/separable_oof.json

`--flagged` (an audit's list, `htr-data audit --cv`) adds the breakdown of the rows it did not flag, so that wrong
labels do not pass for reading errors. `--decoder` scores another decoder (a conf/decoder name), `--set KEY=VALUE`
changes one of its keys (e.g. `--set insertion_bonus=0`); the record names every option the decoder used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.analysis.edit_kinds import breakdown, table
from htr_lit.analysis.label_audit import read_rows
from htr_lit.config import shown_path
from htr_lit.cv.folds import add_fold_arguments
from htr_lit.cv.summary import chosen_folds
from htr_lit.data.label_fixes import read_row_list
from htr_lit.data.real.dhsd import dhsd_labels


def decoder_overrides(specs: Sequence[str]) -> dict[str, Any]:
    """`["insertion_bonus=0", "beam_width=4"]` -> {"insertion_bonus": 0, "beam_width": 4} (numbers as numbers)."""
    from htr_lit.cv.decoder_search import number

    out: dict[str, Any] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SystemExit(f"error: --set {spec!r}: write KEY=VALUE, e.g. insertion_bonus=0")
        try:
            out[key.strip()] = number(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.error_kinds", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fold_arguments(p)
    p.add_argument("--flagged", type=Path, default=None, help="an audit's flagged rows: also break down the others")
    p.add_argument("--decoder", default="greedy", help="conf/decoder name (default: greedy)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a decoder key's value (repeat)")
    p.add_argument("--out", type=Path, required=True, help="the record (JSON)")
    args = p.parse_args(argv)
    import torch

    from htr_lit.decoding.factory import build_decoder, decoder_options
    from htr_lit.inference.scoring import Reader, decoder_spec

    torch.set_num_threads(1)
    overrides = decoder_overrides(args.set)
    spec = decoder_spec(args.decoder)
    options = {**decoder_options(spec), **overrides}
    chosen = chosen_folds(args.cv, args.folds)
    labels = args.csv or dhsd_labels()
    rows, _ = read_rows(labels)
    try:
        flagged = read_row_list(args.flagged, labels.parent) if args.flagged else None
    except ValueError as e:
        raise SystemExit(f"error: {e}") from e
    folds: list[dict[str, Any]] = []
    every: list[tuple[str, str]] = []
    unflagged: list[tuple[str, str]] = []
    for index, (fold, ckpt) in chosen.items():
        mine = [r for r in rows if r.writer_id in set(fold.test_writers)]
        reader = Reader(ckpt, decoder=args.decoder, threads=1)
        if overrides:
            model = reader.model
            reader.decode = build_decoder(spec, model.charset.tokens, model.htr_meta.get("train_texts"), top_n=1,
                                          **overrides)
        readings = reader.read([r.path for r in mine])
        pairs = [(r.text, text) for r, text in zip(mine, readings)]
        entry: dict[str, Any] = {"fold": index, "test_writers": list(fold.test_writers), "all": breakdown(pairs)}
        every += pairs
        if flagged is not None:
            kept = [pair for r, pair in zip(mine, pairs) if os.path.normpath(r.path) not in flagged]
            entry["not_flagged"] = breakdown(kept)
            unflagged += kept
        folds.append(entry)
        print(f"fold {index}: {len(pairs)} words, CER {100 * entry['all']['cer']:.2f} %", flush=True)
    record: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "htr_lit.cv.error_kinds", *argv]),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "cv": shown_path(args.cv), "decoder": args.decoder,
        "decoder_options": None if args.decoder == "greedy" else {k: v for k, v in options.items()
                                                                   if k not in ("lm_word_lists", "lm_cache_dir")},
        "flagged": shown_path(args.flagged) if args.flagged else None, "folds": folds,
        "pooled": {"all": breakdown(every), **({"not_flagged": breakdown(unflagged)} if flagged is not None else {})}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    for part, value in record["pooled"].items():
        print(f"\npooled, {part.replace('_', ' ')} rows:\n{table(value)}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
