"""CER of labels inside and outside the place-name LM's corpus, on a writer fold's test writers.

    python -m htr_lit.cv.name_list_split --cv outputs/cv/separable_dhsd --fold 0 [--decoders greedy,beam_names]
        [--csv LABELS] [--out docs/lm_names]

`decoder=beam_names` reads with a character LM of generated German place and street names, partly from GeoNames
(htr_lit/data/synth/placenames.py), plus the Debian word lists: many real DHSD labels are in that corpus. Fair
knowledge for a user reading German place names, but it flatters the labels it holds, so this splits the test
rows by whether their label is one of the corpus's texts and scores each part with each decoder.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from htr_lit.analysis.label_audit import read_rows
from htr_lit.config import shown_path
from htr_lit.cv.summary import finished_fold
from htr_lit.data.real.dhsd import dhsd_labels
from htr_lit.decoding.lm_corpus import names_corpus
from htr_lit.inference.scoring import Reader, decoder_spec, figures


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.name_list_split", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cv", type=Path, required=True)
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--decoders", default="greedy,beam_names")
    p.add_argument("--csv", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("docs/lm_names"))
    args = p.parse_args(argv)
    csv_path = args.csv or dhsd_labels()
    fold, ckpt = finished_fold(args.cv, args.fold)
    rows = [r for r in read_rows(csv_path)[0] if r.writer_id in set(fold.test_writers)]
    spec = decoder_spec("beam_names")
    result: dict[str, object] = {
        "command": shlex.join(["python", "-m", "htr_lit.cv.name_list_split", *argv]),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "cv": shown_path(args.cv), "fold": args.fold, "test_writers": list(fold.test_writers), "decoders": {}}
    inside = None
    for name in args.decoders.split(","):
        reader = Reader(ckpt, decoder=name)
        if inside is None:
            corpus = set(names_corpus(set(reader.model.charset.chars), int(spec.lm_num_names), int(spec.lm_seed),
                                      list(spec.lm_word_lists)))
            inside = [r.text in corpus for r in rows]
            result["rows"] = {"inside": sum(inside), "outside": len(rows) - sum(inside)}
        preds = reader.read([r.path for r in rows])
        parts = {}
        for part, keep in (("inside", True), ("outside", False), ("all", None)):
            chosen = [(pr, r.text) for pr, r, i in zip(preds, rows, inside) if keep is None or i == keep]
            parts[part] = figures([c[0] for c in chosen], [c[1] for c in chosen]) if chosen else None
        result["decoders"][name] = parts
        print(f"{name}: " + ", ".join(f"{k} {100 * v['cer']:.2f} % CER ({v['images']} rows)" for k, v in parts.items()
                                      if v), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"fold{args.fold}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
