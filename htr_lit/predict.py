"""Transcribe word images with a checkpoint: `python -m htr_lit.predict ckpt_path=PATH input=... [decoder=beam]`."""

from __future__ import annotations

import glob
import logging
import math
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.formats import IMAGE_SUFFIXES
from htr_lit.data.preprocess import reading_preprocess
from htr_lit.decoding.factory import build_decoder, decoder_name, decoder_options
from htr_lit.errors import ConfigError, UserError, exit_on_user_error
from htr_lit.inference.backend import build_backend
from htr_lit.inference.batching import Result, transcribe
from htr_lit.inference.calibration import hypotheses_needed, word_confidence
from htr_lit.inference.formatting import format_hypotheses
from htr_lit.inference.tta import StretchFusion, tta_factors
from htr_lit.overrides import checked_overrides

log = logging.getLogger("htr_lit.predict")


class InputNotFoundError(UserError, FileNotFoundError):
    """`input=` matches no image, folder, list file or glob pattern."""


LIST_SUFFIXES = (".txt", ".lst", ".list")
IMAGE_KINDS = "/".join(sorted(IMAGE_SUFFIXES))  # for messages: .bmp/.gif/...


def expand_inputs(spec: str) -> list[Path]:
    """An image, a folder (searched recursively), a glob pattern, or a text file listing paths.

    A glob's matches are taken like the inputs they are: a folder gives its images, an image file itself;
    other files it matches (a labels.csv beside the scans) are skipped with a warning naming how many.
    """
    p = Path(spec).expanduser()
    if p.is_dir():
        found = _folder_images(p)
        if not found:
            raise InputNotFoundError(f"input={spec}: the folder holds no image files ({IMAGE_KINDS}, searched "
                                     "recursively)")
        return found
    if p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
        return _listed_paths(p, spec)
    if p.is_file():
        return [p]
    matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
    if not matches:
        raise InputNotFoundError(f"input={spec}: no such image, folder, list file or glob match")
    found = [f for m in matches for f in (_folder_images(m) if m.is_dir() else [m])]
    images = [f for f in found if f.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise InputNotFoundError(f"input={spec}: the pattern matches {len(matches)} path(s) but no image file "
                                 f"({IMAGE_KINDS})")
    if len(images) < len(found):
        log.warning("input=%s: skipped %d matched file(s) that are not images, e.g. %s",
                    spec, len(found) - len(images), next(f for f in found if f.suffix.lower() not in IMAGE_SUFFIXES))
    return images


def _folder_images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())


def _listed_paths(listing: Path, spec: str) -> list[Path]:
    """One path per line (relative to the list file's folder); blank lines and `#` comments skipped; a
    UTF-8 BOM (Windows editors) is dropped."""
    try:
        lines = listing.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise InputNotFoundError(f"input={spec}: the list file is not UTF-8 text (bad byte at offset {e.start}); "
                                 "save it as UTF-8, one image path per line") from e
    entries = [line.strip() for line in lines]
    paths = [Path(x).expanduser() for x in entries if x and not x.startswith("#")]
    listed = [x if x.is_absolute() else listing.parent / x for x in paths]
    if not listed:
        raise InputNotFoundError(f"input={spec}: the list file names no image (one path per line, # comments)")
    return listed


def _report_unreadable(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def predict(cfg: DictConfig) -> int:
    """Returns the number of inputs that could not be transcribed (each reported on stderr)."""
    if OmegaConf.is_missing(cfg, "input"):
        raise ConfigError("input= is required: an image, a folder, a glob or a .txt list of paths "
                          "(python -m htr_lit.predict input=word.png; --help for more)")
    if cfg.batch_size is not None and int(cfg.batch_size) < 0:
        raise ConfigError(f"batch_size={cfg.batch_size}: images per forward pass, a positive number (null: the "
                          "backend's default)")
    inputs = expand_inputs(str(cfg.input))  # before the model loads: a wrong path fails at once
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    model, pre = load_model(cfg.ckpt_path)
    wide = reading_preprocess(pre, cfg.get("max_width"))
    top_n = int(cfg.top_n if cfg.get("top_n") is not None else cfg.decoder.get("top_n", 1))
    factors = tta_factors(cfg.get("tta"))
    # the word confidence (htr_lit/inference/calibration.py): greedy, the checkpoint's calibration (with tta, the one
    # fitted on those stretches if it carries one); another decoder, the checkpoint's calibration of it so configured,
    # else P(text | image) under CTC
    calibration = word_confidence(model, decoder_name(cfg.decoder), factors, decoder_options(cfg.decoder))
    decoder = build_decoder(cfg.decoder, model.charset.tokens, model.htr_meta.get("train_texts"),
                            top_n=max(top_n, hypotheses_needed(calibration)))
    backend = build_backend(str(cfg.get("backend", "auto")), model, pre, cfg.ckpt_path, int8=bool(cfg.get("int8")),
                            threads=cfg.get("torch_threads"), device=str(cfg.device), cache_dir=cfg.get("cache_dir"))
    tta = StretchFusion(factors, model.charset.tokens, pre.min_width) if factors else None
    failed = read = to_check = 0
    review = _review_below(cfg.get("review_below"))
    batch_size = int(cfg.batch_size or backend.batch_size)
    with _progress(len(inputs), cfg.get("progress")) as bar:
        for result in transcribe(inputs, wide, backend, decoder, batch_size, on_error=_report_unreadable, tta=tta,
                                 split_lines=bool(cfg.get("lines", True)), calibration=calibration):
            bar.update(1)
            if result.error is not None:
                failed += 1
                continue
            _warn_layout(result)
            print("\n".join(format_hypotheses(result.path, result.hypotheses, cfg.format, top_n, result.lines,
                                               result.line_hypotheses, review, result.confidence,
                                               result.line_confidences)), flush=True)
            conf = result.confidence if result.confidence is not None else math.exp(result.hypotheses[0].score)
            to_check += review is not None and conf < review
            read += 1
    if review is not None and read:
        log.warning("%d of %d words have a confidence below review_below=%g: marked for a person to check",
                    to_check, read, review)
    return failed


def _review_below(value: object) -> float | None:
    if value is None:
        return None
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = -1.0
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"review_below={value}: a confidence between 0 and 1 (words below it are marked to check)")
    return threshold


def _warn_layout(result: Result) -> None:
    """One line on stderr for an input that is not one word or line: a blank one, or one holding several lines."""
    if result.blank:
        log.warning("%s: no writing found: read as the empty text with confidence 0; check the scan (an empty "
                    "field, a crop that missed the word, an all-white page)", result.path)
    elif result.lines:
        rows = ", ".join(f"{top}-{bottom}" for top, bottom in result.lines)
        log.warning("%s: %d text lines found (rows %s): each read on its own, the text holds them one per line; "
                    "lines=false reads the image as one word", result.path, len(result.lines), rows)


def _progress(total: int, progress: bool | None) -> tqdm:
    """A bar on stderr: `progress=null` shows it when the results go to a file or a pipe and stderr is a
    terminal (`htr-predict input=scans/ > out.tsv`), so it never mixes with the lines it counts."""
    if progress is None:
        progress = sys.stderr.isatty() and not sys.stdout.isatty() and total > 1
    return tqdm(total=total, unit="img", file=sys.stderr, disable=not progress, dynamic_ncols=True)


@checked_overrides("predict")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s")
    with exit_on_user_error():
        if cfg.format not in ("tsv", "jsonl"):
            raise ConfigError(f"format={cfg.format}: choose tsv or jsonl")
        failed = predict(cfg)
    if failed:
        print(f"{failed} input(s) could not be read", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
