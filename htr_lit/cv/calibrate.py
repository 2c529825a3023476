"""Fit the word-confidence calibration of a writer fold's model on its validation writers, score it once on its
test writers, and store it in a checkpoint.

    python -m htr_lit.cv.calibrate --cv outputs/cv/separable_dhsd --fold 0 [--csv LABELS] [--out docs/confidence]
        [--into PATH.ckpt]

The fold's model reads its validation writers' rows (writers it never trained on); a logistic regression maps
each reading's CTC features to P(right) (htr_lit/inference/calibration.py). Its test writers are then read once and
the raw confidence (exp of the greedy path's log-probability, what predict prints without a calibration) and the
calibrated one are both judged: AUROC, ECE, accuracy of the most confident 50 / 80 %, per writer and pooled
(htr_lit/analysis/confidence.py) -> `<out>/fold<i>.json`. `--into` writes the fold's checkpoint with the calibration
in its metadata (predict then prints the calibrated confidence).

    python -m htr_lit.cv.calibrate --cv outputs/cv/separable_dhsd --folds 0,1,2,3,4 [--into SHIPPED.ckpt]

Out of fold: each fold's model reads its own test writers; the calibration is judged cross-fitted (each fold scored
by a fit on the other folds' readings) -> `<out>/out_of_fold_<folds>.json`, then fitted on every reading: the record
`--into` stores in a checkpoint trained on all writers (a shipped recognizer of the same recipe).

    python -m htr_lit.cv.calibrate --cv outputs/cv/separable_dhsd --folds 2,3 --on val --features posterior,text_logp \
        --name text_logp

Choosing the features: `--on val` reads each fold's validation writers instead (cross-fitted the same way) ->
`<out>/out_of_fold_<folds>_val[_<name>].json`; `--features` names the columns of the fit (calibration.FEATURE_NAMES,
or the groups posterior, text, all (the eight of a plain reading), stretch).

    python -m htr_lit.cv.calibrate --cv outputs/cv/separable_dhsd --folds 2,3 --tta true --features all,stretch

`--tta` calibrates the readings predict's `tta=` makes (fused over width stretches; `true`: the default factors), and
may use the stretch features; `--into` stores it beside the plain calibration (calibration.TTA_KEY), used by
`htr-predict tta=...` with the same factors. Records are named `..._tta`.

    python -m htr_lit.cv.calibrate --cv outputs/cv/separable_dhsd --folds 0,1,2,3,4 --decoder beam_names \
        --features beam_margin

`--decoder` (a conf/decoder name) calibrates that decoder's readings (each image's best two hypotheses kept) and
may use its feature beam_margin; `--into` stores it beside the others (calibration.DECODER_KEY, with the decoder's
options), used by `htr-predict decoder=...` when the decoder is configured the same way. Records are named
`..._<decoder>`; their raw confidence is P(text | image) under CTC, what predict gives such a reading without one.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import numpy as np

from htr_lit.analysis.confidence import confidence_report, confident_errors
from htr_lit.analysis.label_audit import LabelRow, read_rows
from htr_lit.config import shown_path
from htr_lit.cv.folds import fold_list
from htr_lit.cv.summary import finished_fold
from htr_lit.data.real.dhsd import dhsd_labels
from htr_lit.inference import calibration
from htr_lit.inference.batching import load_window, read_batches
from htr_lit.inference.scoring import Reader
from htr_lit.inference.tta import tta_factors


def feature_names(spec: str) -> tuple[str, ...]:
    """`--features`: comma-separated feature names or groups (posterior, text, all) in that order."""
    groups = {"posterior": calibration.POSTERIOR, "text": calibration.TEXT, "all": calibration.PLAIN,
              "stretch": calibration.STRETCH, "decoder": calibration.DECODER}
    names = [n for part in spec.split(",") if part.strip() for n in groups.get(part.strip(), (part.strip(),))]
    unknown = [n for n in names if n not in calibration.FEATURE_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown features {unknown}; known: {', '.join(calibration.FEATURE_NAMES)} "
                                         "or the groups posterior, text, all, stretch, decoder")
    return tuple(dict.fromkeys(names))


def stretches(spec: str) -> tuple[float, ...] | None:
    """`--tta`: true (the default factors) or comma-separated width factors, as predict's `tta=`."""
    try:
        return tta_factors(True if spec.strip().lower() == "true" else spec)
    except ValueError as e:  # ConfigError
        raise argparse.ArgumentTypeError(str(e)) from e


def columns(feats: Sequence[Sequence[float]], names: Sequence[str]) -> list[list[float]]:
    """The columns `names` of a table of every feature (calibration.FEATURE_NAMES)."""
    at = [calibration.FEATURE_NAMES.index(n) for n in names]
    return [[row[k] for k in at] for row in feats]


@dataclass
class Readings:
    """One model's readings of some rows: every feature (calibration.FEATURE_NAMES; the stretch ones NaN unless read
    with tta, the decoder's unless read with another decoder than greedy), whether each is exactly right, its raw
    confidence (greedy: exp of its log-score; another decoder: P(text | image) under CTC), writer, text and label."""

    feats: list[list[float]]
    correct: list[bool]
    raw: list[float]
    writers: list[str | None]
    texts: list[str]
    labels: list[str]


def readings(reader: Reader, rows: Sequence[LabelRow], decoded: bool = False) -> Readings:
    """`reader`'s readings of every readable row (`decoded`: the reader's decoder is not greedy, and keeps each
    image's best two hypotheses for beam_margin)."""
    images, errors = load_window([r.path for r in rows], reader.pre)
    kept = [r for k, r in enumerate(rows) if k not in errors]
    read = partial(read_batches, backend=reader.backend, decoder=reader.decode, batch_size=32, keep_log_probs=True)
    views = reader.tta.read(images, read) if reader.tta is not None else None
    hyps, log_probs = ([v.hypotheses for v in views], [v.log_probs for v in views]) if views else read(images)
    names = (*calibration.PLAIN, *(calibration.STRETCH if views else ()), *(calibration.DECODER if decoded else ()))
    at = [calibration.FEATURE_NAMES.index(n) for n in names]
    tokens = reader.model.charset.tokens
    known = calibration.Names()
    out = Readings([], [], [], [r.writer_id for r in kept], [], [r.text for r in kept])
    for k, (r, h, lp) in enumerate(zip(kept, hyps, log_probs)):
        text, score = (h[0].text, h[0].score) if h else ("", -math.inf)
        values = calibration.word_features(lp, text, names, tokens, known, stretch=views[k] if views else None,
                                           score=score, runner_up=h[1].score if len(h) > 1 else None)
        row = [math.nan] * len(calibration.FEATURE_NAMES)
        for i, v in zip(at, values):
            row[i] = v
        out.feats.append(row)
        out.correct.append(text == r.text)
        raw = math.exp(values[names.index("text_logp")]) if decoded else math.exp(score)
        out.raw.append(raw if h else 0.0)
        out.texts.append(text)
    return out


def fold_reader(ckpt: Path, args: argparse.Namespace) -> Reader:
    """A fold model reading as the calibration asks: `--decoder` keeping two hypotheses, `--tta` stretches."""
    return Reader(ckpt, decoder=args.decoder, tta=args.tta, top_n=1 if args.decoder == "greedy" else 2)


def judged(conf: Sequence[float], correct: Sequence[bool], writers: Sequence[str | None]) -> dict[str, object]:
    """The confidence figures pooled and per writer (without the risk-coverage curve per writer)."""
    per_writer = {}
    for w in sorted({w for w in writers if w is not None}, key=str):
        mask = [x == w for x in writers]
        report = confidence_report([c for c, m in zip(conf, mask) if m], [k for k, m in zip(correct, mask) if m])
        per_writer[w] = {k: v for k, v in report.items() if k != "risk_coverage"}
    return {"pooled": confidence_report(conf, correct), "per_writer": per_writer}


def out_of_fold(args: argparse.Namespace) -> dict[str, object]:
    """`--folds I,J,...`: each fold's model reads its own test writers (out-of-fold readings; `--on val`: its
    validation writers, where a feature set is chosen); the calibration is judged cross-fitted (fitted on the other
    folds' readings, scored on the fold's) and then fitted on all of them, the record a shipped checkpoint takes
    (`--into`)."""
    csv_path = args.csv or dhsd_labels()
    rows, _ = read_rows(csv_path)
    per_fold: dict[int, Readings] = {}
    for index in args.folds:
        fold, ckpt = finished_fold(args.cv, index)
        mine = set(fold.val_writers if args.on == "val" else fold.test_writers)
        per_fold[index] = readings(fold_reader(ckpt, args), [r for r in rows if r.writer_id in mine],
                                   args.decoder != "greedy")
        print(f"fold {index}: {len(per_fold[index].correct)} {args.on} words read", flush=True)
    feats = {i: columns(r.feats, args.features) for i, r in per_fold.items()}
    calibrated: list[float] = []
    for index in per_fold:
        others = [i for i in per_fold if i != index]
        record = calibration.fit([f for i in others for f in feats[i]],
                                 [k for i in others for k in per_fold[i].correct], args.features)
        calibrated += calibration.probability(record, feats[index]).tolist()
    every = Readings(*([x for r in per_fold.values() for x in getattr(r, f.name)] for f in fields(Readings)))
    final = calibration.fit([f for i in per_fold for f in feats[i]], every.correct, args.features)
    tag(final, args)
    return {"folds": list(args.folds), "writers": args.on, "tta": list(args.tta) if args.tta else None,
            "decoder": args.decoder,
            "cross_fitted_raw": judged(every.raw, every.correct, every.writers),
            "cross_fitted_calibrated": judged(calibrated, every.correct, every.writers),
            "confident_errors": confident_errors(calibrated, every.correct, every.texts, every.labels, every.writers),
            "calibration": final, "fit_on": {"words": len(every.correct), "accuracy": float(np.mean(every.correct))}}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.calibrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cv", type=Path, required=True, help="a writer cross-validation folder (python -m htr_lit.cv)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--fold", type=int, help="fit on this fold's validation writers, score its test writers")
    which.add_argument("--folds", type=fold_list, help="out-of-fold: every listed fold's test writers read by its own "
                                                       "model; judged cross-fitted, then fitted on all (>= 2 folds)")
    p.add_argument("--on", choices=("test", "val"), default="test",
                   help="with --folds: the writers each fold's model reads (val: its validation writers, where a "
                        "feature set is chosen; default test)")
    p.add_argument("--features", type=feature_names, default=calibration.FEATURES, metavar="NAMES",
                   help=f"features of the fit, comma-separated names or groups (posterior, text, all, stretch, "
                        f"decoder); default posterior. Known: {', '.join(calibration.FEATURE_NAMES)}")
    p.add_argument("--tta", type=stretches, default=None, metavar="FACTORS",
                   help="calibrate readings fused over width stretches, as htr-predict tta= reads (true: the default "
                        "factors, or e.g. 0.8,1.0,1.2); the stretch features need it")
    p.add_argument("--decoder", default="greedy", metavar="NAME",
                   help="calibrate this conf/decoder's readings, as htr-predict decoder=NAME reads (e.g. beam_names; "
                        "default greedy); the feature beam_margin needs it")
    p.add_argument("--name", default="", help="appended to the record's name (e.g. the feature set compared)")
    p.add_argument("--csv", type=Path, default=None, help="the labels CSV (default: DHSD's, $HTR_DHSD_DIR)")
    p.add_argument("--out", type=Path, default=Path("docs/confidence"), help="where the record is written")
    p.add_argument("--into", type=Path, default=None,
                   help="write the checkpoint with the calibration here (--fold: the fold's checkpoint; --folds: "
                        "the checkpoint --into-from names, else the file at --into itself, e.g. a shipped recognizer)")
    p.add_argument("--into-from", type=Path, default=None, help="with --folds: the checkpoint --into is made from")
    args = p.parse_args(argv)
    if set(calibration.STRETCH) & set(args.features) and not args.tta:
        raise SystemExit(f"error: the features {', '.join(calibration.STRETCH)} need --tta")
    if set(calibration.DECODER) & set(args.features) and args.decoder == "greedy":
        raise SystemExit(f"error: the feature {', '.join(calibration.DECODER)} needs --decoder (e.g. beam_names)")
    if args.tta and args.decoder != "greedy":
        raise SystemExit("error: --tta and --decoder: a calibration is fitted on one or the other")
    if args.folds is not None:
        if len(args.folds) < 2:
            raise SystemExit("error: --folds needs at least two finished folds (each is judged by the others' fit)")
        found = out_of_fold(args)
        stem, judged_names, source = f"out_of_fold_{'_'.join(str(i) for i in args.folds)}" + (
            "_val" if args.on == "val" else ""), (
            "cross_fitted_raw", "cross_fitted_calibrated"), args.into_from or args.into
    else:
        found, source = one_fold(args)
        stem, judged_names = f"fold{args.fold}", ("test_raw", "test_calibrated")
    stem += ("_tta" if args.tta else "") + (f"_{args.decoder}" if args.decoder != "greedy" else "") + (
        f"_{args.name}" if args.name else "")
    result = {"command": shlex.join(["python", "-m", "htr_lit.cv.calibrate", *argv]),
              "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
              "cv": shown_path(args.cv), **found}
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{stem}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    for name in judged_names:
        pooled = result[name]["pooled"]
        auroc = f"{pooled['auroc']:.3f}" if pooled["auroc"] is not None else "n/a (all right or all wrong)"
        print(f"{name}: {pooled['words']} words, AUROC {auroc}, ECE {pooled['ece']:.3f}, most confident "
              f"50 % {100 * pooled['accuracy_top50']:.1f} % right (a perfect ranking: "
              f"{100 * pooled['best_accuracy_top50']:.1f} %), 80 % {100 * pooled['accuracy_top80']:.1f} %")
    if args.into:
        key = calibration.TTA_KEY if args.tta else calibration.DECODER_KEY if args.decoder != "greedy" else (
            calibration.META_KEY)
        store(result["calibration"], source, args.into, key)
        print(f"written {args.into} (with the calibration)")
    print(f"written {out}")
    return 0


def one_fold(args: argparse.Namespace) -> tuple[dict[str, object], Path]:
    """`--fold I`: fit on the fold's validation writers, judge on its test writers; (the figures, its checkpoint)."""
    csv_path = args.csv or dhsd_labels()
    fold, ckpt = finished_fold(args.cv, args.fold)
    reader = fold_reader(ckpt, args)
    rows, _ = read_rows(csv_path)
    val = [r for r in rows if r.writer_id in set(fold.val_writers)]
    test = [r for r in rows if r.writer_id in set(fold.test_writers)]
    decoded = args.decoder != "greedy"
    on_val = readings(reader, val, decoded)
    record = calibration.fit(columns(on_val.feats, args.features), on_val.correct, args.features)
    tag(record, args)
    on_test = readings(reader, test, decoded)
    calibrated = calibration.probability(record, columns(on_test.feats, args.features)).tolist()
    val_ok, test_ok, test_raw, writers = on_val.correct, on_test.correct, on_test.raw, on_test.writers
    return {"fold": args.fold, "ckpt": shown_path(ckpt), "decoder": args.decoder, "val_writers": list(fold.val_writers),
            "test_writers": list(fold.test_writers), "calibration": record,
            "fit_on_val": {"words": len(val_ok), "accuracy": float(np.mean(val_ok))},
            "test_raw": judged(test_raw, test_ok, writers),
            "test_calibrated": judged(calibrated, test_ok, writers),
            "confident_errors": confident_errors(calibrated, test_ok, on_test.texts, on_test.labels, writers)}, ckpt


def tag(record: dict[str, object], args: argparse.Namespace) -> None:
    """What a calibration record must match where it is used: the stretch factors (`--tta`), or the decoder's name
    and options (`--decoder`, as predict composes `decoder=<name>`)."""
    if args.tta:
        record["tta"] = list(args.tta)
    if args.decoder != "greedy":
        from htr_lit.decoding.factory import decoder_name, decoder_options
        from htr_lit.inference.scoring import decoder_spec

        spec = decoder_spec(args.decoder)
        record.update(decoder=decoder_name(spec), decoder_conf=args.decoder, options=decoder_options(spec))


def store(record: dict[str, object], source: Path, dest: Path, key: str = calibration.META_KEY) -> None:
    """`source`'s checkpoint with `record` as its calibration (under `key`: the plain or the tta one; DECODER_KEY:
    added to the decoders' calibrations, replacing one of the same decoder and options), written to `dest`."""
    import torch

    from htr_lit.checkpoint import read_checkpoint

    data = read_checkpoint(source)
    if key == calibration.DECODER_KEY:
        others = [r for r in data["htr_lit"].get(key) or () if not (
            r.get("decoder") == record["decoder"] and calibration.same_options(r.get("options") or {},
                                                                              record["options"]))]
        data["htr_lit"][key] = [*others, record]
    else:
        data["htr_lit"][key] = record
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, dest)


if __name__ == "__main__":
    sys.exit(main())
