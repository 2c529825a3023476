"""Compare two cross-validated recipes fold by fold and writer by writer, with paired tests.

    python -m htr_lit.cv.compare outputs/cv/crnn_dhsd outputs/cv/dilated_dhsd [--decoder beam_names]
    python -m htr_lit.cv.compare DIR DIR --b-decoder greedy_tta_0.8_0.9_1_1.1_1.2   # re-scored folds
    python -m htr_lit.cv.compare outputs/cv/crnn_dhsd outputs/cv/lever --on val   # choose on validation writers

Reads each folder's `cv.json` (or `cv_<decoder>.json`) and the tables of `--only` runs (`cv_folds_*.json`), pairs the
folds both have finished (and their test writers), and prints a markdown table: CER of A and B per fold,
the difference B - A, then for folds and for writers the mean difference, wins/losses and the sign and
permutation p-values (htr_lit/cv/paired.py). The folds must be the same writer folds (same
`--seed` and `--folds`): a mismatch is an error, not a silent pairing of different writers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.cv.folds import FOLD_DIR
from htr_lit.cv.paired import paired_summary
from htr_lit.cv.tables import load_cv_folds
from htr_lit.runs.records import read_metrics


def load_cv(folder: Path, decoder: str = "greedy") -> dict[str, Any]:
    """The folds `python -m htr_lit.cv` scored with `decoder` in `folder`: its full and partial tables merged
    (htr_lit/cv/tables.py: for a fold in several tables, the one written last)."""
    folds, sources = load_cv_folds(folder, decoder)
    if not folds:
        stem = "cv" if decoder == "greedy" else f"cv_{decoder}"
        raise SystemExit(
            f"error: {folder}: no cross-validation summary {stem}.json or {stem}_folds_*.json "
            f"(run python -m htr_lit.cv ... --out {folder})"
        )
    return {"folds": folds, "sources": sources}


def with_val_cer(folder: Path, cv: dict[str, Any]) -> dict[str, Any]:
    """`cv` with each fold's validation CER (`val/cer`: the best epoch's, on the fold's validation writers), from its
    table or, for tables from before they held it, from the fold's metrics.json; folds without one are left out."""
    folds = []
    for fold in cv["folds"]:
        val = fold.get("val/cer")
        if val is None:
            val = (read_metrics(folder / FOLD_DIR.format(fold["fold"])) or {}).get("val/cer")
        if val is not None:
            folds.append({**fold, "val/cer": val})
    return {**cv, "folds": folds}


def compare_val(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> tuple[str, dict[str, Any]]:
    """The validation writers' CER paired per fold: the comparison a choice between recipes may be made on
    (sweeps/protocol.md); the test writers are not looked at."""
    pairs = pair_folds(a, b)
    if not pairs:
        raise SystemExit("error: the two runs have no fold with a validation CER in common")
    lines = [f"## {name_b} vs {name_a} on the validation writers: paired over {len(pairs)} folds "
             "(val CER %, B - A < 0: B better; the test writers are not used)", "",
             f"| fold | validation writers | {name_a} | {name_b} | B - A |", "|---|---|---:|---:|---:|"]
    for fa, fb in pairs:
        lines.append(f"| {fa['fold']} | {', '.join(fa.get('val_writers', []))} | {100 * fa['val/cer']:.2f} | "
                     f"{100 * fb['val/cer']:.2f} | {100 * (fb['val/cer'] - fa['val/cer']):+.2f} |")
    s = paired_summary([fa["val/cer"] for fa, _ in pairs], [fb["val/cer"] for _, fb in pairs])
    lines += ["", "| paired over | pairs | mean B - A (points) | std | B better / worse / tied | sign test p | "
              "permutation p |", "|---|---:|---:|---:|---|---:|---:|",
              f"| folds | {s['pairs']} | {100 * s['mean_diff']:+.2f} | {format_std_points(s)} | {s['b_better']} / "
              f"{s['b_worse']} / {s['ties']} | {format_p(s['sign_p'])} | {format_p(s['permutation_p'])} |"]
    return "\n".join(lines) + "\n", {"folds": s, "pairs": len(pairs)}


def pair_folds(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[dict, dict]]:
    """(fold of A, fold of B) for every fold index both finished, checking they hold the same writers."""
    folds_b = {f["fold"]: f for f in b["folds"]}
    pairs = []
    for fa in a["folds"]:
        fb = folds_b.get(fa["fold"])
        if fb is None:
            continue
        if sorted(fa["test_writers"]) != sorted(fb["test_writers"]):
            raise SystemExit(
                f"error: fold {fa['fold']} tests writers {fa['test_writers']} in A but {fb['test_writers']} in B: "
                "not the same folds (use the same --seed and --folds)"
            )
        pairs.append((fa, fb))
    return pairs


def format_p(value: float) -> str:
    """A p-value for a table: 3 decimals, or scientific notation below 0.001."""
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def format_std_points(summary: dict[str, float]) -> str:
    """The std of the paired differences in points, blank for a single pair (a spread of one value is no spread)."""
    return f"{100 * summary['std_diff']:.2f}" if summary["pairs"] > 1 else ""


def paired_stats(pairs: list[tuple[dict, dict]]) -> dict[str, dict[str, float]]:
    """Paired summaries of test CER, B - A, over the paired folds and over their test writers."""
    by_fold = paired_summary([fa["test/cer"] for fa, _ in pairs], [fb["test/cer"] for _, fb in pairs])
    writers = [(fa["writers"][w]["cer"], fb["writers"][w]["cer"]) for fa, fb in pairs for w in fa["test_writers"]]
    by_writer = paired_summary([x for x, _ in writers], [y for _, y in writers])
    return {"folds": by_fold, "writers": by_writer}


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> tuple[str, dict[str, Any]]:
    """The markdown table and the numbers behind it."""
    pairs = pair_folds(a, b)
    if not pairs:
        raise SystemExit("error: the two runs have no finished fold in common")
    lines = [
        f"## {name_b} vs {name_a}: paired over {len(pairs)} writer folds (CER %, B - A < 0: B better)",
        "",
        f"| fold | test writers | {name_a} | {name_b} | B - A |",
        "|---|---|---:|---:|---:|",
    ]
    for fa, fb in pairs:
        diff = 100 * (fb["test/cer"] - fa["test/cer"])
        writers = ", ".join(fa["test_writers"])
        cers = f"{100 * fa['test/cer']:.2f} | {100 * fb['test/cer']:.2f}"
        lines.append(f"| {fa['fold']} | {writers} | {cers} | {diff:+.2f} |")
    stats = paired_stats(pairs)
    by_fold, by_writer = stats["folds"], stats["writers"]
    lines += [
        "",
        "| paired over | pairs | mean B - A (points) | std | B better / worse / tied | sign test p | permutation p |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for label, s in (("folds", by_fold), ("writers", by_writer)):
        lines.append(
            f"| {label} | {s['pairs']} | {100 * s['mean_diff']:+.2f} | {format_std_points(s)} | "
            f"{s['b_better']} / {s['b_worse']} / {s['ties']} | {format_p(s['sign_p'])} | "
            f"{format_p(s['permutation_p'])} |"
        )
    return "\n".join(lines) + "\n", {"folds": by_fold, "writers": by_writer, "pairs": len(pairs)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv.compare",
        description="Paired comparison of two writer cross-validations (per fold and per writer; sign and "
        "permutation tests). A and B are output folders of python -m htr_lit.cv.",
    )
    p.add_argument("a", type=Path, help="cv output folder of the baseline, e.g. outputs/cv/crnn_dhsd")
    p.add_argument("b", type=Path, help="cv output folder compared with it, e.g. outputs/cv/dilated_dhsd")
    p.add_argument("--decoder", default="greedy", help="compare the cv_<decoder>.json scores (default greedy)")
    p.add_argument("--b-decoder", default=None, metavar="NAME",
                   help="B's scores under another name than A's (default: --decoder), e.g. one folder against itself "
                   "re-scored: A B = the same folder, --b-decoder greedy_tta_0.8_0.9_1_1.1_1.2 (python -m htr_lit.cv "
                   "--tta)")
    p.add_argument("--on", choices=("test", "val"), default="test",
                   help="test: the test writers (the published comparison, scored once); val: the validation "
                   "writers' CER per fold, what a choice between recipes is made on (sweeps/protocol.md)")
    p.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    args = p.parse_args(argv)
    b_decoder = args.b_decoder or args.decoder
    name_a, name_b = args.a.name, args.b.name
    if b_decoder != args.decoder:
        name_a, name_b = f"{name_a} ({args.decoder})", f"{name_b} ({b_decoder})"
    a, b = load_cv(args.a, args.decoder), load_cv(args.b, b_decoder)
    if args.on == "val":
        table, _ = compare_val(with_val_cer(args.a, a), with_val_cer(args.b, b), name_a, name_b)
    else:
        table, _ = compare(a, b, name_a, name_b)
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
