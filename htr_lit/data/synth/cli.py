"""The `htr-synth` command line (`python -m htr_lit.data.synth`): generate or preview the synthetic data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from htr_lit.data.synth.dataset import PREVIEW_FILE, DatasetMismatchError, ensure_dataset, generate
from htr_lit.data.synth.fonts import FontError
from htr_lit.data.synth.samples import preview
from htr_lit.data.synth.spec import DEFAULT_NUM_WORKERS, DEFAULT_SPEC, STYLES, SyntheticSpec
from htr_lit.data.synth.words import WordListError

DEFAULT_OUT = "data/synthetic"


def _parser() -> argparse.ArgumentParser:
    """The htr-synth command line; its defaults are SyntheticSpec's."""
    parser = argparse.ArgumentParser(
        prog="htr-synth",
        description="Generate a synthetic handwriting dataset (words or place names rendered with handwriting fonts) "
        "into DIR: images/{train,val,test}/*.png, {train,val,test}.csv and meta.json. It is written once and "
        "reused: if DIR already holds a dataset with the same settings, nothing is done.",
    )
    add = parser.add_argument
    spec = DEFAULT_SPEC
    add("--out", metavar="DIR", default=DEFAULT_OUT, help="output folder, the dataset root (default: %(default)s)")
    add("--num-train", metavar="N", type=int, default=spec.num_train, help="training images (default: %(default)s)")
    add("--num-val", metavar="N", type=int, default=spec.num_val, help="validation images (default: %(default)s)")
    add("--num-test", metavar="N", type=int, default=spec.num_test, help="test images (default: %(default)s)")
    add("--seed", metavar="S", type=int, default=spec.seed,
        help="random seed; same seed, same dataset (default: %(default)s)")
    add("--font-dir", metavar="D", action="append", default=None,
        help="folder of .ttf/.otf fonts, searched recursively; repeat for several "
        "(default: the Debian handwriting fonts installed by `make system-deps`)")
    add("--word-list", metavar="FILE", action="append", default=None, dest="word_lists",
        help="plain-text word list, one word a line; repeat for several, sampled equally "
        "(default: /usr/share/dict/american-english and /usr/share/dict/ngerman)")
    add("--style", choices=STYLES, default=spec.style,
        help="words: single dictionary words cropped tight; names: German place/street names on "
        "canvases like real form scans; lines: words joined into lines of --canvas-width px (default: %(default)s)")
    add("--canvas-width", metavar="W", type=int, default=spec.canvas_width,
        help="canvas width in pixels for --style names and lines (default: %(default)s)")
    add("--height", metavar="H", type=int, default=spec.height, help="image height in pixels (default: %(default)s)")
    add("--workers", metavar="W", type=int, default=DEFAULT_NUM_WORKERS,
        help="worker processes; the result does not depend on it (default: %(default)s)")
    add("--preview", metavar="N", type=int, default=0,
        help="only write a contact sheet of N samples with their labels to DIR/preview.png")
    add("--overwrite", action="store_true", help="regenerate even if DIR holds a dataset made with other settings")
    add("--quiet", action="store_true", help="no progress bar")
    return parser


def spec_from_args(args: argparse.Namespace) -> SyntheticSpec:
    """The spec the parsed command line asks for (one --font-dir is stored as a path, several as a list)."""
    font_dir = args.font_dir[0] if args.font_dir and len(args.font_dir) == 1 else args.font_dir
    return SyntheticSpec(num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, seed=args.seed,
                         font_dir=font_dir, word_lists=args.word_lists, height=args.height,
                         style=args.style, canvas_width=args.canvas_width)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (`htr-synth`, `python -m htr_lit.data.synth`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        spec = spec_from_args(args)
    except ValueError as err:  # e.g. a negative count: a usage error (exit status 2)
        parser.error(str(err))
    try:
        if args.preview > 0:
            print(f"wrote {preview(Path(args.out) / PREVIEW_FILE, spec, num=args.preview)}")
            return 0
        action = generate if args.overwrite else ensure_dataset
        root = action(args.out, spec, num_workers=args.workers, progress=not args.quiet)
    except (FontError, WordListError, DatasetMismatchError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"dataset ready: {root}")
    return 0

