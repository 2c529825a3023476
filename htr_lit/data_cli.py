"""The `htr-data` command line (`python -m htr_lit.data_cli`): fetch DHSD, or prepare a user's IAM
download, into labels CSVs that `data=csv` reads; audit a labels CSV for wrong labels
(htr_lit/analysis/label_audit.py)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from htr_lit.analysis import label_audit
from htr_lit.data.real import dhsd, iam
from htr_lit.errors import UserError, exit_on_user_error

DEFAULT_DHSD_DEST = "data/dhsd"


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fetch", help="download a public dataset, verify it, write labels.csv + images/",
        description="Download a public dataset into a cache folder, verify its SHA-256 checksums and write\n"
        "this project's layout into --dest: grayscale images/ and labels.csv (file_name,text,writer_id).\n"
        "Running it again with the same settings does nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"""DHSD v{dhsd.VERSION} (github.com/{dhsd.REPO}, CC BY 4.0): 5,939 images of 37 writers.
Every file is checked against the release's {dhsd.MANIFEST}, whose own SHA-256 is pinned.
Sources (default: the GitHub archive of the pinned commit):
  --url {dhsd.ZENODO_URL}    (the authors' Zenodo zip)
  --mirror {dhsd.RAW_MIRROR}    (file by file)
Then train on it:
  HTR_DHSD_DIR=DEST htr-train experiment=crnn_dhsd""",
    )
    add = parser.add_argument
    add("dataset", choices=["dhsd"], help="the dataset to fetch")
    add("--dest", metavar="DIR", default=DEFAULT_DHSD_DEST, help="output folder (default: %(default)s)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--url", metavar="URL", help="a zip or tar of the release: http(s)://, file:// or a local "
                        f"path (default: the pinned GitHub commit, {dhsd.DEFAULT_URL})")
    source.add_argument("--mirror", metavar="URL", help="a folder laid out like the release (checksums.sha256, "
                        "data.csv, german_hw_data/...), fetched file by file: http(s)://, file:// or a local path")
    add("--cache", metavar="DIR", default=None,
        help="where downloads are kept (default: $HTR_CACHE_DIR, else ~/.cache/htr-lit, + /dhsd)")
    add("--sha256", metavar="HEX", default=None, help="also require this SHA-256 of the downloaded archive")
    add("--manifest-sha256", metavar="HEX", default=dhsd.MANIFEST_SHA256,
        help=f"SHA-256 of the release's {dhsd.MANIFEST}; change it only for another release (default: v"
        f"{dhsd.VERSION}'s, %(default)s)")
    add("--exclude-writers", metavar="IDS", default="",
        help="comma-separated writer ids to leave out, e.g. 1,3,6,16,21,26,29 gives the 30 writers of "
        "../shared/data/dhsd")
    add("--quiet", action="store_true", help="no progress bars")


def _add_iam(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "iam", help="check an IAM download, write train/val/test labels CSVs",
        description=f"""IAM needs a registration, so it is not downloaded for you. From {iam.IAM_PAGE}
download ascii.tgz (words.txt, forms.txt: unpack into ROOT or ROOT/ascii), words.tgz (unpack into
ROOT/words) and the split lists. This checks them, names whatever is missing, and writes
OUT/train.csv, val.csv, test.csv (file_name,text,writer_id; writer ids from forms.txt).""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"""split schemes:
  official  largeWriterIndependentTextLineRecognitionTask.zip from the IAM page: trainset.txt;
            validationset1.txt + validationset2.txt as val; testset.txt. In ROOT or
            ROOT/largeWriterIndependentTextLineRecognitionTask.
  aachen    train.txt, valid.txt, test.txt of {iam.AACHEN_PAGE},
            in ROOT/splits or ROOT/IAM-A.
Then train on it:
  htr-train data=csv data.source.train_csv=OUT/train.csv data.source.val_csv=OUT/val.csv \\
      data.source.test_csv=OUT/test.csv""",
    )
    add = parser.add_argument
    add("--root", metavar="DIR", required=True, help="the folder holding your IAM download")
    add("--out", metavar="DIR", default=None, help="where the CSVs go (default: ROOT)")
    add("--split", choices=sorted(iam.SCHEMES), default="official", help="split scheme (default: %(default)s)")
    add("--splits-dir", metavar="DIR", default=None, help="folder of the scheme's list files (default: searched "
        "under ROOT)")
    for split in ("train", "val", "test"):
        add(f"--{split}-ids", metavar="FILE", default=None,
            help=f"your own {split} list (form, line or word ids, one a line); give all three to replace --split")
    add("--skip-err", action="store_true", help="leave out words whose segmentation IAM flags as 'err'")
    add("--skip-missing-images", action="store_true",
        help="leave out words whose image is missing or empty instead of stopping")


AUDIT_EPILOG = """Each row's image is read by a model that never trained on it: a checkpoint (--ckpt), a shipped
recognizer (--shipped, for your own data) or, for data cross-validated by writer, each writer fold's model on its
own test writers (--cv DIR: the folder of `python -m htr_lit.cv`). A row is judged by how much less likely its
label is than the model's reading: per character (score), in all (nats), or in all with the prior of a names LM
(nats_lm, the default: nats + lm_nats). Rows whose --rank is at or above --threshold are written, most suspicious
first, as file_name,text,predicted,score,kind,suggestion,writer_id,nats,lm_nats (kind: shifted within a writer,
truncated, typo, mismatch). Examples:
  htr-data audit ../shared/data/dhsd/labels.csv --cv outputs/cv/separable_dhsd --out flagged.csv
  htr-data audit my_words/labels.csv --shipped recognizer --out flagged.csv --threshold 8
  htr-data audit my_words/labels.csv --out flagged.csv --rank score --threshold 0.3"""


def _add_audit(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="list the rows of a labels CSV whose label is likely wrong",
                            description="Find wrong labels in a labels CSV (file_name,text[,writer_id]).",
                            epilog=AUDIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("labels", type=Path, help="the labels CSV (image paths relative to its folder)")
    judge = parser.add_mutually_exclusive_group()
    judge.add_argument("--ckpt", type=Path, default=None, help="a checkpoint that never trained on these rows")
    judge.add_argument("--shipped", default=None, metavar="NAME",
                       help="a shipped recognizer (htr_lit/assets/models/NAME.ckpt; default: recognizer_separable)")
    judge.add_argument("--cv", type=Path, default=None, metavar="DIR",
                       help="a writer cross-validation folder: each fold's model judges its own test writers")
    add("--out", type=Path, required=True, help="the flagged rows' CSV")
    add("--threshold", type=float, default=None,
        help="flag rows whose --rank is at least this (default: "
             + ", ".join(f"{k} {v:g}" for k, v in label_audit.THRESHOLDS.items()) + ")")
    add("--rank", choices=label_audit.RANKS, default=label_audit.DEFAULT_RANK,
        help="rank and flag by nats per character (score), in all (nats: finds typos in long words) or in all "
             "with the names LM's prior (nats_lm, default: finds typos best)")
    add("--all", action="store_true", help="write every row, ranked, not only the flagged ones")
    add("--summary", type=Path, default=None, metavar="JSON",
        help="also write the counts and the readings' CER on all rows, the rows not flagged and the flagged ones")


def _fold_judges(cv: Path) -> list[tuple[Path, list[str]]]:
    """(best checkpoint, test writers) of every finished fold of a cross-validation folder."""
    from htr_lit.cv.summary import finished_folds

    judges = [(ckpt, list(fold.test_writers)) for fold, ckpt in finished_folds(cv).values()]
    if not judges:
        raise UserError(f"--cv {cv}: no finished writer fold (fold_<i>/metrics.json with status ok)")
    return judges


def _run_audit(args: argparse.Namespace) -> None:
    judges = _fold_judges(args.cv) if args.cv is not None else None
    verdicts = label_audit.audit_csv(args.labels, ckpt=args.ckpt, shipped=args.shipped, judges=judges)
    ranked = label_audit.ranked(verdicts, args.rank)
    threshold = label_audit.THRESHOLDS[args.rank] if args.threshold is None else args.threshold
    flagged = [v for v in ranked if label_audit.rank_value(v, args.rank) >= threshold]
    label_audit.write_flagged(args.out, ranked if args.all else flagged)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(label_audit.kind_counts(flagged).items()))
    logging.info("%s: %d of %d rows flagged (%s >= %g)%s -> %s", args.labels, len(flagged), len(verdicts),
                 args.rank, threshold, f": {kinds}" if kinds else "", args.out)
    cer = label_audit.cer_split(verdicts, flagged)
    logging.info("CER of the readings against the labels: %.2f %% on all %d rows read, %.2f %% without the flagged "
                 "ones, %.2f %% on the flagged", 100 * cer["all"]["cer"], cer["all"]["rows"],
                 100 * cer["not_flagged"]["cer"], 100 * cer["flagged"]["cer"])
    if args.summary is not None:
        import json
        import shlex
        import sys

        from htr_lit.config import shown_path

        record = {"command": shlex.join(["htr-data", *sys.argv[1:]]), "labels": shown_path(args.labels),
                  "judged_by": shown_path(args.cv or args.ckpt) if (args.cv or args.ckpt) else
                  f"shipped {args.shipped or 'recognizer_separable'}", "rank": args.rank, "threshold": threshold,
                  "rows": len(verdicts), "flagged": len(flagged), "kinds": label_audit.kind_counts(flagged),
                  "cer": cer}
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def parser() -> argparse.ArgumentParser:
    """The htr-data command line: one subcommand per job."""
    p = argparse.ArgumentParser(prog="htr-data", description="Get real handwriting datasets into labels CSVs "
                                "(file_name,text,writer_id) that `htr-train data=csv` reads.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fetch,iam,audit}")
    _add_fetch(sub)
    _add_iam(sub)
    _add_audit(sub)
    return p


def _run_fetch(args: argparse.Namespace) -> None:
    dest = dhsd.fetch_dhsd(args.dest, url=args.url, mirror=args.mirror, cache_dir=args.cache,
                           archive_sha256=args.sha256, manifest_sha256=args.manifest_sha256,
                           exclude_writers=args.exclude_writers.split(","), progress=not args.quiet)
    print(f"DHSD ready: {dest / dhsd.OUT_LABELS}\ntrain on it: HTR_DHSD_DIR={dest} htr-train experiment=crnn_dhsd")


def _run_iam(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    own = {s: getattr(args, f"{s}_ids") for s in ("train", "val", "test")}
    if any(own.values()) and not all(own.values()):
        p.error("give all of --train-ids, --val-ids and --test-ids, or none")
    files = iam.locate(args.root, scheme=args.split, splits_dir=args.splits_dir,
                       split_files=own if all(own.values()) else None)
    out = args.out or args.root
    written = iam.write_splits(files, out, skip_err=args.skip_err, skip_missing_images=args.skip_missing_images)
    for split, (path, images, writers) in written.items():
        print(f"{split}: {images} words, {writers} writers -> {path}")
    csvs = " ".join(f"data.source.{s}_csv={path}" for s, (path, _, _) in written.items())
    print(f"train on it: htr-train data=csv {csvs}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (`htr-data`)."""
    p = parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with exit_on_user_error():
        if args.command == "fetch":
            _run_fetch(args)
        elif args.command == "audit":
            _run_audit(args)
        else:
            _run_iam(args, p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
