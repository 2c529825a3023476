"""How well the label audit finds wrong labels: plant them, seeded, and see which come first.

    python -m htr_lit.cv.audit_planted --cv outputs/cv/separable_dhsd --fold 0 [--plant 100] [--seed 0]
        [--csv ../shared/data/dhsd/labels.csv] [--max-flagged 0.13] [--rank score|nats] [--out docs/audit]

Rows of the fold's test writers get ~`--plant` wrong labels in the three ways real sets go wrong: labels swapped
between two rows of one writer, a one-letter typo (a letter replaced, dropped or doubled), a label missing its
last word (labels of two words or more). The fold's model (which never trained on these writers) judges every
row (htr_lit/analysis/label_audit.py). The flag threshold is chosen on the fold's VALIDATION writers, planted the
same way (the lowest threshold that flags at most `--max-flagged` of their rows), then the test writers are
scored once: recall of the planted rows (all and per kind) and the share of rows flagged, and the curve of recall
against rows flagged. `--rank` is what rows are ranked by (label_audit.RANKS: nats per character, or in all).
Writes `<out>/planted_fold<i>[_<rank>].json` (no suffix for the default rank).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from htr_lit.analysis import label_audit
from htr_lit.analysis.label_audit import LabelRow, Verdict, audit, read_rows
from htr_lit.config import shown_path
from htr_lit.cv.summary import finished_fold
from htr_lit.data.real.dhsd import dhsd_labels
from htr_lit.inference.scoring import Reader

KINDS = ("swap", "typo", "truncated")
LETTERS = "abcdefghiklmnoprstuüäöß"


def typo(text: str, rng: random.Random) -> str:
    """One letter replaced, dropped or doubled (never the same text)."""
    while True:
        i = rng.randrange(len(text))
        op = rng.choice(("replace", "drop", "double"))
        out = (text[:i] + rng.choice(LETTERS) + text[i + 1:] if op == "replace" else
               text[:i] + text[i + 1:] if op == "drop" else text[:i] + text[i] + text[i:])
        if out != text and out.strip():
            return out


def plant(rows: list[LabelRow], n: int, rng: random.Random) -> tuple[list[LabelRow], dict[str, str]]:
    """`rows` with about `n` wrong labels (a third of each kind, swaps in pairs of one writer); file name -> kind."""
    rows = list(rows)
    free = list(range(len(rows)))
    rng.shuffle(free)
    planted: dict[str, str] = {}
    per_kind = n // 3
    by_writer: dict[str | None, list[int]] = {}
    for k in free:
        by_writer.setdefault(rows[k].writer_id, []).append(k)
    swaps = 0
    for k in free:
        if swaps >= per_kind:
            break
        if rows[k].file_name in planted:
            continue
        mates = [j for j in by_writer[rows[k].writer_id]
                 if j != k and rows[j].file_name not in planted and rows[j].text != rows[k].text]
        if not mates:
            continue
        j = rng.choice(mates)
        rows[k], rows[j] = (LabelRow(rows[k].file_name, rows[j].text, rows[k].writer_id, rows[k].path),
                            LabelRow(rows[j].file_name, rows[k].text, rows[j].writer_id, rows[j].path))
        planted[rows[k].file_name] = planted[rows[j].file_name] = "swap"
        swaps += 2
    for kind, fits, change in (("typo", lambda t: len(t) >= 3, lambda t: typo(t, rng)),
                               ("truncated", lambda t: len(t.split()) >= 2, lambda t: " ".join(t.split()[:-1]))):
        done = 0
        for k in free:
            if done >= per_kind:
                break
            r = rows[k]
            if r.file_name in planted or not fits(r.text):
                continue
            rows[k] = LabelRow(r.file_name, change(r.text), r.writer_id, r.path)
            planted[r.file_name] = kind
            done += 1
    return rows, planted


def threshold_for(values: Sequence[float], max_flagged: float) -> float:
    """The lowest threshold that flags at most `max_flagged` of `values` (flagged: value >= threshold)."""
    ranked = sorted(values, reverse=True)
    allowed = int(max_flagged * len(ranked))
    return ranked[allowed] + 1e-9 if allowed < len(ranked) else 0.0


def choose_threshold(verdicts: Sequence[Verdict], max_flagged: float, by: str = "score") -> float:
    """The lowest threshold on `by` that flags at most `max_flagged` of the rows."""
    return threshold_for([label_audit.rank_value(v, by) for v in verdicts], max_flagged)


def evaluate(verdicts: Sequence[Verdict], planted: dict[str, str], threshold: float, by: str = "score"
             ) -> dict[str, object]:
    """Share of rows flagged, recall of the planted rows (all, per kind), the recall-vs-flagged curve, ranked
    and flagged by `by`, and every row's rank value with its planted kind (`values`, most suspicious first; null
    for a row left as it is), from which audit_pooled chooses one threshold over several folds."""
    flagged = {v.file_name for v in verdicts if label_audit.rank_value(v, by) >= threshold}
    recall = {kind: (sum(f in flagged for f, k in planted.items() if k == kind) /
                     max(1, sum(k == kind for k in planted.values()))) for kind in KINDS}
    ranked = label_audit.ranked(verdicts, by)
    curve, found = [], {kind: 0 for kind in KINDS}
    totals = {kind: sum(k == kind for k in planted.values()) for kind in KINDS}
    for i, v in enumerate(ranked, 1):
        if v.file_name in planted:
            found[planted[v.file_name]] += 1
        if i % max(1, len(ranked) // 50) == 0 or i == len(ranked):
            curve.append({"flagged": i / len(ranked), "recall": sum(found.values()) / max(1, len(planted)),
                          **{kind: found[kind] / max(1, totals[kind]) for kind in KINDS}})
    unplanted = [v for v in ranked if v.file_name in flagged and v.file_name not in planted]
    return {"rows": len(verdicts), "planted": len(planted), "planted_by_kind": totals, "threshold": threshold,
            "flagged": len(flagged) / len(verdicts), "recall": sum(f in flagged for f in planted) / len(planted),
            "recall_by_kind": recall, "curve": curve,
            "flagged_unplanted": [v.as_row() for v in unplanted],
            "values": [[_shown(label_audit.rank_value(v, by)), planted.get(v.file_name)] for v in ranked]}


def _shown(value: float) -> float | None:
    """A rank value for a JSON record: 4 decimals, None for a label no alignment explains (ranked first)."""
    return round(value, 4) if math.isfinite(value) else None


def dumps(record: dict[str, object]) -> str:
    """The record as indented JSON with each innermost list on one line (a row's [value, kind] included)."""
    text = json.dumps(record, indent=2, ensure_ascii=False)
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.audit_planted", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cv", type=Path, required=True, help="a writer cross-validation folder (python -m htr_lit.cv)")
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--csv", type=Path, default=None, help="the labels CSV (default: DHSD's, $HTR_DHSD_DIR)")
    p.add_argument("--plant", type=int, default=100, help="wrong labels to plant among the test rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-flagged", type=float, default=0.13, help="the share of rows the threshold may flag")
    p.add_argument("--rank", choices=label_audit.RANKS, default="score",
                   help="rank and flag by nats per character (score, default), in all (nats) or in all with the "
                        "names LM's prior (nats_lm)")
    p.add_argument("--decoder", default="greedy", metavar="NAME",
                   help="the reading each label is weighed against: a conf/decoder name (default greedy; e.g. "
                        "beam_names, the names LM)")
    p.add_argument("--out", type=Path, default=Path("docs/audit"))
    args = p.parse_args(argv)
    csv_path = args.csv or dhsd_labels()
    fold, ckpt = finished_fold(args.cv, args.fold)
    rows, _ = read_rows(csv_path)
    reader = Reader(ckpt, decoder=args.decoder)
    decoder = None if args.decoder == "greedy" else reader.decode
    others: dict[str | None, list[str]] = {}
    result: dict[str, object] = {}
    for split, writers, n in (("val", fold.val_writers, args.plant // 2), ("test", fold.test_writers, args.plant)):
        mine = [r for r in rows if r.writer_id in set(writers)]
        planted_rows, planted = plant(mine, n, random.Random(args.seed + (split == "test")))
        others = {}
        for r in planted_rows:
            others.setdefault(r.writer_id, []).append(r.text)
        verdicts = audit(planted_rows, reader, others, decoder=decoder)
        threshold = (choose_threshold(verdicts, args.max_flagged, args.rank) if split == "val"
                     else result["val"]["threshold"])
        result[split] = {"writers": list(writers), **evaluate(verdicts, planted, threshold, args.rank)}
        print(f"{split}: {len(mine)} rows, {len(planted)} planted, threshold {threshold:.3f}: "
              f"flagged {100 * result[split]['flagged']:.1f} %, recall {100 * result[split]['recall']:.1f} % "
              f"({', '.join(f'{k} {100 * v:.0f} %' for k, v in result[split]['recall_by_kind'].items())})",
              flush=True)
    record = {"command": shlex.join(["python", "-m", "htr_lit.cv.audit_planted", *argv]),
              "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
              "cv": shown_path(args.cv), "fold": args.fold, "csv": csv_path.name, "seed": args.seed,
              "max_flagged": args.max_flagged, "rank": args.rank, "decoder": args.decoder, **result}
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / (f"planted_fold{args.fold}{'' if args.rank == 'score' else '_' + args.rank}"
                      f"{'' if args.decoder == 'greedy' else '_' + args.decoder}.json")
    out.write_text(dumps(record))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
