"""Synthetic handwritten-word dataset: words rendered with handwriting fonts, generated once and reused.

This is htr-lit's default training data. Each sample is drawn from its own generator seeded with
(seed, split, index), so the dataset is identical whatever the number of worker processes. Concurrent
jobs (a Hydra multirun) share one copy: `ensure_dataset` generates under a file lock into a temporary
folder and renames it into place, so a half-written dataset is never seen.

Layout: root/images/{train,val,test}/NNNNNN.png, root/{train,val,test}.csv (file_name,text,font),
root/meta.json (arguments, fonts, counts, generator version).
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htr_lit.data.fonts import FontError, FontInfo, find_fonts
from htr_lit.data.words import WordListError, WordSampler, load_word_lists
from htr_lit.errors import UserError

GENERATOR_VERSION = "htr-lit-synth/1"
SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}  # split name -> id in the sample seed
# Training images by default, here, in the CLI and in htr_lit/conf/data/synthetic.yaml: `make data` renders what `make train` uses.
DEFAULT_NUM_TRAIN = 16000
DEFAULT_OUT = "data/synthetic"
_MODULE = "htr_lit.data.synthetic"
CSV_COLUMNS = ("file_name", "text", "font")
META_FILE = "meta.json"
PREVIEW_FILE = "preview.png"

# Rendering ranges (see render_word). Ink height is relative to the output height before resizing.
RENDER_SCALE = (0.8, 1.4)
MIN_FONT_SIZE, MAX_FONT_SIZE = 12, 160
SHEAR = 0.4
ROTATION_DEG = 3.0
INK_LEVEL = (0.0, 90.0)
PAPER_LEVEL = (170.0, 255.0)
MARGIN_Y = (1, 5)  # output pixels above and below the ink
MARGIN_X = (2, 9)
INK_THRESHOLD = 40  # mask level counted as ink when cropping
MAX_FILL_TO_DILATE = 0.16  # bolder fonts are not thickened

FontDir = str | Path | Sequence[str | Path] | None


class DatasetMismatchError(UserError, ValueError):
    """A dataset already exists at the root but was generated with other arguments."""


# --------------------------------------------------------------------------------------------- rendering


@lru_cache(maxsize=512)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A PIL font object; cached because loading a face costs more than drawing a word."""
    return ImageFont.truetype(path, size)


def _font_size(text: str, path: str, target_height: float) -> int:
    """The font size at which the ink of `text` is about `target_height` pixels tall."""
    ref = 48
    left, top, right, bottom = _load_font(path, ref).getbbox(text)
    ink_height = max(bottom - top, 1)
    return int(np.clip(round(ref * target_height / ink_height), MIN_FONT_SIZE, MAX_FONT_SIZE))


def _draw_text(text: str, path: str, size: int) -> np.ndarray:
    """White-on-black anti-aliased mask of `text`, with a small border."""
    font = _load_font(path, size)
    left, top, right, bottom = font.getbbox(text)
    pad = 2 + size // 10
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=255)
    return np.array(image)


def _warp(mask: np.ndarray, shear: float, angle_deg: float) -> np.ndarray:
    """Slant (x shifts with height; positive leans right) and rotate, enlarging the canvas to fit."""
    h, w = mask.shape
    shear_m = np.array([[1.0, -shear, shear * h / 2], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    rot_m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0), [0.0, 0.0, 1.0]])
    m = rot_m @ shear_m
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64).T
    moved = m[:2] @ corners
    x0, y0 = moved.min(axis=1)
    x1, y1 = moved.max(axis=1)
    m[0, 2] -= x0
    m[1, 2] -= y0
    size = (int(np.ceil(x1 - x0)) + 1, int(np.ceil(y1 - y0)) + 1)
    return cv2.warpAffine(mask, m[:2], size, flags=cv2.INTER_LINEAR, borderValue=0)


def _vary_stroke(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sometimes thicken (dilate) or thin (erode) the strokes.

    Fonts that are already bold (ink fills much of its box) are not thickened further, and thinning is
    skipped where it would erase much of the ink (hairline fonts).
    """
    choice = rng.random()
    if choice < 0.25:
        fill = _ink_fill(mask)
        if fill < MAX_FILL_TO_DILATE:
            size = 3 if fill < 0.1 and rng.random() < 0.5 else 2
            return cv2.dilate(mask, np.ones((size, size), np.uint8))
    elif choice < 0.45:
        thinner = cv2.erode(mask, np.ones((2, 2), np.uint8))
        if int(thinner.sum()) >= 0.6 * int(mask.sum()):
            return thinner
    return mask


def _ink_bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the ink's bounding box, or None when there is no ink."""
    ink = mask > INK_THRESHOLD
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _ink_fill(mask: np.ndarray) -> float:
    """The mean ink coverage inside the ink's bounding box (about 0.1 for thin fonts, 0.3 for bold)."""
    box = _ink_bbox(mask)
    return 0.0 if box is None else float(mask[box].mean()) / 255.0


def _crop_to_ink(mask: np.ndarray) -> np.ndarray:
    """The tight bounding box of the ink (the whole mask if there is none)."""
    box = _ink_bbox(mask)
    return mask if box is None else mask[box]


def _fit_height(mask: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Resize the ink to the output height (aspect kept) and add a few pixels of margin."""
    top, bottom = (int(v) for v in rng.integers(*MARGIN_Y, size=2))
    left, right = (int(v) for v in rng.integers(*MARGIN_X, size=2))
    inner_h = max(height - top - bottom, 1)
    h, w = mask.shape
    inner_w = max(int(round(w * inner_h / h)), 1)
    interp = cv2.INTER_AREA if inner_h < h else cv2.INTER_LINEAR
    resized = cv2.resize(mask, (inner_w, inner_h), interpolation=interp)
    return cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)


def _ink_on_paper(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Compose dark ink on light paper, with optional shading, blur and sensor noise."""
    paper = rng.uniform(*PAPER_LEVEL)
    ink = rng.uniform(*INK_LEVEL)
    alpha = mask.astype(np.float32) * (1.0 / 255.0)
    image = paper + (ink - paper) * alpha
    if rng.random() < 0.3:
        shade = rng.uniform(-12.0, 12.0)
        image += np.linspace(-shade, shade, image.shape[1], dtype=np.float32)[None, :]
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.3, 0.9))
    if rng.random() < 0.6:
        image += rng.standard_normal(image.shape, dtype=np.float32) * rng.uniform(1.0, 6.0)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def render_word(text: str, font: FontInfo, rng: np.random.Generator, height: int = 64) -> np.ndarray:
    """Render `text` as a handwritten-looking word image: uint8 grayscale, dark ink, exactly `height` tall.

    Random font size, slant, rotation, stroke width, ink/paper levels, blur and noise; the image is
    cropped to the ink and resized keeping the aspect ratio. All randomness comes from `rng`.
    """
    if not text:
        raise ValueError("render_word needs a non-empty text")
    path = str(font.path)
    size = _font_size(text, path, height * rng.uniform(*RENDER_SCALE))
    mask = _draw_text(text, path, size)
    mask = _warp(mask, shear=rng.uniform(-SHEAR, SHEAR), angle_deg=rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    mask = _vary_stroke(mask, rng)
    mask = _fit_height(_crop_to_ink(mask), height, rng)
    return _ink_on_paper(mask, rng)


# --------------------------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class RenderPlan:
    """What every worker needs to make any sample: fonts grouped by family, the sampler, settings."""

    families: tuple[tuple[FontInfo, ...], ...]
    sampler: WordSampler
    seed: int
    height: int
    out_dir: Path | None = None


def _group_by_family(fonts: Sequence[FontInfo]) -> tuple[tuple[FontInfo, ...], ...]:
    """Fonts grouped by family (in first-seen order), so that each family is drawn equally often."""
    groups: dict[str, list[FontInfo]] = {}
    for font in fonts:
        groups.setdefault(font.family or font.name, []).append(font)
    return tuple(tuple(g) for g in groups.values())


def _choose(plan: RenderPlan, rng: np.random.Generator) -> tuple[FontInfo, str]:
    """A font (uniform family, then variant) and a text that the font can draw."""
    family = plan.families[rng.integers(len(plan.families))]
    font = family[rng.integers(len(family))]
    for _ in range(200):
        text = plan.sampler.sample(rng)
        if font.supports(text):
            return font, text
    raise FontError(f"font {font.path} cannot draw any of 200 sampled texts; check the word lists")


def make_sample(plan: RenderPlan, split_id: int, index: int) -> tuple[str, FontInfo, np.ndarray]:
    """The (text, font, image) of sample `index` of a split; depends only on (seed, split, index)."""
    rng = np.random.default_rng([plan.seed, split_id, index])
    font, text = _choose(plan, rng)
    return text, font, render_word(text, font, rng, plan.height)


_PLAN: RenderPlan | None = None  # set in each worker process by _init_worker


def _init_worker(plan: RenderPlan) -> None:
    """Pool initializer: keep the plan in the worker; one OpenCV thread per process."""
    global _PLAN
    _PLAN = plan
    cv2.setNumThreads(1)


def _write_sample(task: tuple[str, int]) -> tuple[str, str, str]:
    """Render one sample and write its PNG; returns its CSV row (file_name, text, font)."""
    assert _PLAN is not None and _PLAN.out_dir is not None
    split, index = task
    text, font, image = make_sample(_PLAN, SPLITS[split], index)
    file_name = f"images/{split}/{index:06d}.png"
    if not cv2.imwrite(str(_PLAN.out_dir / file_name), image):
        raise OSError(f"could not write {_PLAN.out_dir / file_name}")
    return file_name, text, font.name


def _pool_context() -> mp.context.BaseContext:
    """Forkserver where available: forking a process that already runs OpenCV or torch thread pools can
    deadlock the children on a lock held by a thread that does not exist in them."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    if _MODULE in sys.modules:  # imported as a library: workers start with the rendering modules loaded
        context.set_forkserver_preload(["__main__", _MODULE])
    # else run as `python -m htr_lit.data.synthetic`: preloading it would import it twice in the workers
    return context


def _run_tasks(plan: RenderPlan, tasks: list[tuple[str, int]], num_workers: int) -> Iterator[tuple[str, str, str]]:
    """Rows of all tasks in order, rendered in a process pool (or in this process for <= 1 worker)."""
    if num_workers <= 1:
        global _PLAN
        previous, _PLAN = _PLAN, plan
        try:
            yield from map(_write_sample, tasks)
        finally:
            _PLAN = previous
        return
    chunk = max(1, min(64, len(tasks) // (num_workers * 8) or 1))
    with _pool_context().Pool(num_workers, initializer=_init_worker, initargs=(plan,)) as pool:
        yield from pool.imap(_write_sample, tasks, chunksize=chunk)


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar; yields the function that advances it by one."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("synthetic words"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("render", total=total)
        yield lambda: progress.advance(task)


# --------------------------------------------------------------------------------------------- dataset


def _identity(
    num_train: int, num_val: int, num_test: int, seed: int, font_dir: FontDir, word_lists: Any, height: int
) -> dict[str, Any]:
    """The arguments that define the dataset's content (as stored in meta.json and compared)."""

    def paths(value: Any) -> Any:
        if value is None or isinstance(value, (str, Path)):
            return None if value is None else str(value)
        return [str(v) for v in value]

    return {
        "generator_version": GENERATOR_VERSION,
        "num_train": int(num_train),
        "num_val": int(num_val),
        "num_test": int(num_test),
        "seed": int(seed),
        "font_dir": paths(font_dir),
        "word_lists": paths(word_lists),
        "height": int(height),
    }


def make_plan(seed: int, font_dir: FontDir, word_lists: Any, height: int) -> tuple[RenderPlan, list[FontInfo]]:
    """Find the fonts and load the words; the sampler's own seed is unused (samples bring their rng)."""
    if height < 8:
        raise ValueError(f"height must be at least 8 pixels, got {height}")
    fonts = find_fonts(font_dir)
    sampler = WordSampler(load_word_lists(word_lists), seed=seed)
    return RenderPlan(families=_group_by_family(fonts), sampler=sampler, seed=seed, height=height), fonts


def _write_csv(path: Path, rows: Iterable[tuple[str, str, str]]) -> None:
    """Write a labels CSV (UTF-8, csv-module quoting)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


def _temp_sibling(root: Path, kind: str) -> Path:
    """A unique hidden folder next to `root` (same file system, so os.replace is atomic)."""
    return root.parent / f".{root.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _publish(tmp: Path, root: Path) -> None:
    """Move the finished dataset into place; an older dataset (or a lone preview) is replaced."""
    old: Path | None = None
    if root.exists():
        contents = {p.name for p in root.iterdir()}
        if META_FILE not in contents and not contents <= {PREVIEW_FILE}:
            raise FileExistsError(f"{root} exists and is not a synthetic dataset (no {META_FILE}); "
                                  "choose another output folder")
        if PREVIEW_FILE in contents and not (tmp / PREVIEW_FILE).exists() and META_FILE not in contents:
            os.replace(root / PREVIEW_FILE, tmp / PREVIEW_FILE)
        old = _temp_sibling(root, "old")
        os.replace(root, old)
    os.replace(tmp, root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _generate_unlocked(
    root: Path, identity: dict[str, Any], font_dir: FontDir, word_lists: Any, num_workers: int, progress: bool
) -> Path:
    """Render all splits into a temporary folder, write labels and meta.json, then move it to `root`."""
    start = time.perf_counter()
    plan, fonts = make_plan(identity["seed"], font_dir, word_lists, identity["height"])
    counts = {split: identity[f"num_{split}"] for split in SPLITS}
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(root, "tmp")
    try:
        for split in SPLITS:
            (tmp / "images" / split).mkdir(parents=True)
        plan = RenderPlan(plan.families, plan.sampler, plan.seed, plan.height, out_dir=tmp)
        tasks = [(split, i) for split, n in counts.items() for i in range(n)]
        rows: dict[str, list[tuple[str, str, str]]] = {split: [] for split in SPLITS}
        with _progress_bar(len(tasks), progress) as advance:
            for (split, _), row in zip(tasks, _run_tasks(plan, tasks, num_workers)):
                rows[split].append(row)
                advance()
        for split, split_rows in rows.items():
            _write_csv(tmp / f"{split}.csv", split_rows)
        seconds = time.perf_counter() - start
        meta = _meta(identity, fonts, rows, num_workers, seconds)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _publish(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        total = len(tasks)
        print(f"wrote {total} word images to {root} in {seconds:.1f} s ({total / max(seconds, 1e-9):.0f} images/s)")
    return root


def _meta(
    identity: dict[str, Any],
    fonts: Sequence[FontInfo],
    rows: dict[str, list[tuple[str, str, str]]],
    num_workers: int,
    seconds: float,
) -> dict[str, Any]:
    """The content of meta.json: arguments, fonts, counts and how it was made."""
    all_chars = set("".join(text for split_rows in rows.values() for _, text, _ in split_rows))
    return {
        "generator_version": GENERATOR_VERSION,
        "args": identity,
        "fonts": [
            {"name": f.name, "family": f.family, "file": str(f.path), "missing": "".join(sorted(all_chars - f.chars))}
            for f in fonts
        ],
        "counts": {split: len(r) for split, r in rows.items()},
        "font_counts": {split: dict(sorted(Counter(row[2] for row in r).items())) for split, r in rows.items()},
        "charset": "".join(sorted(all_chars)),
        "num_workers": num_workers,
        "seconds": round(seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def read_meta(root: str | Path) -> dict[str, Any] | None:
    """The dataset's meta.json as a dict, or None when there is none."""
    path = Path(root) / META_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetMismatchError(f"{path} is not valid JSON ({err}); delete {Path(root)} to regenerate") from err


def _check_same(root: Path, meta: dict[str, Any], identity: dict[str, Any]) -> None:
    """Raise DatasetMismatchError (naming the differing keys) unless meta.json matches `identity`."""
    stored = meta.get("args", {})
    diffs = [
        f"  {key}: {stored.get(key)!r} on disk, {value!r} requested"
        for key, value in identity.items()
        if stored.get(key) != value
    ]
    if diffs:
        raise DatasetMismatchError(
            f"a synthetic dataset already exists at {root} but was generated with other arguments:\n"
            + "\n".join(diffs)
            + f"\nChoose another output folder (root) for these settings, or delete {root} to regenerate it"
            " (CLI: --overwrite)."
        )


@contextmanager
def _file_lock(path: Path, progress: bool) -> Iterator[None]:
    """An exclusive fcntl.flock on `path` (created if needed), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"waiting for another process generating the synthetic data ({path}) ...", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lock_path(root: Path) -> Path:
    return root.parent / f".{root.name}.lock"


def generate(
    root: str | Path,
    num_train: int = DEFAULT_NUM_TRAIN,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    font_dir: FontDir = None,
    word_lists: Sequence[str | Path] | None = None,
    height: int = 64,
    num_workers: int = 2,
    progress: bool = True,
) -> Path:
    """Generate the dataset at `root` (replacing an older synthetic dataset there) and return `root`.

    The result depends only on the arguments other than num_workers/progress. Runs under the root's
    lock; written to a temporary folder first, then moved into place.
    """
    root = Path(root)
    identity = _identity(num_train, num_val, num_test, seed, font_dir, word_lists, height)
    with _file_lock(_lock_path(root), progress):
        return _generate_unlocked(root, identity, font_dir, word_lists, num_workers, progress)


def ensure_dataset(
    root: str | Path,
    num_train: int = DEFAULT_NUM_TRAIN,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    font_dir: FontDir = None,
    word_lists: Sequence[str | Path] | None = None,
    height: int = 64,
    num_workers: int = 2,
    progress: bool = True,
) -> Path:
    """Return `root` once it holds the dataset for these arguments, generating it only if it is missing.

    Raises DatasetMismatchError if a dataset made with other arguments is there. Safe to call from many
    processes at once: one generates, the others wait on the lock and then reuse it.
    """
    root = Path(root)
    identity = _identity(num_train, num_val, num_test, seed, font_dir, word_lists, height)
    meta = read_meta(root)
    if meta is None:
        with _file_lock(_lock_path(root), progress):
            meta = read_meta(root)
            if meta is None:
                return _generate_unlocked(root, identity, font_dir, word_lists, num_workers, progress)
    _check_same(root, meta, identity)
    return root


# --------------------------------------------------------------------------------------------- preview + CLI


def _label_font(size: int = 15) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A plain font for the preview labels (DejaVu Sans where installed)."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    return ImageFont.truetype(str(dejavu), size) if dejavu.is_file() else ImageFont.load_default(size=size)


def preview(
    out_path: str | Path,
    num: int = 24,
    seed: int = 0,
    font_dir: FontDir = None,
    word_lists: Sequence[str | Path] | None = None,
    height: int = 64,
    columns: int = 3,
) -> Path:
    """Write a contact sheet of the first `num` training samples, each with its label and font."""
    plan, _ = make_plan(seed, font_dir, word_lists, height)
    cell_w, label_h = 380, 20
    rows = (num + columns - 1) // columns
    sheet = Image.new("L", (columns * cell_w, rows * (height + label_h + 8)), 255)
    draw = ImageDraw.Draw(sheet)
    label_font = _label_font()
    for i in range(num):
        text, font, image = make_sample(plan, SPLITS["train"], i)
        if image.shape[1] > cell_w - 10:
            image = cv2.resize(image, (cell_w - 10, height), interpolation=cv2.INTER_AREA)
        x, y = (i % columns) * cell_w + 5, (i // columns) * (height + label_h + 8) + 4
        sheet.paste(Image.fromarray(image), (x, y))
        draw.text((x, y + height + 2), f"{text}   [{font.name}]", fill=0, font=label_font)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path


def _parser() -> argparse.ArgumentParser:
    """The htr-synth command line."""
    parser = argparse.ArgumentParser(
        prog="htr-synth",
        description="Generate the synthetic handwritten-word dataset (words rendered with handwriting fonts) "
        "into DIR: images/{train,val,test}/*.png, {train,val,test}.csv and meta.json. It is written once and "
        "reused: if DIR already holds a dataset with the same settings, nothing is done.",
    )
    add = parser.add_argument
    add("--out", metavar="DIR", default=DEFAULT_OUT, help="output folder, the dataset root (default: %(default)s)")
    add("--num-train", metavar="N", type=int, default=DEFAULT_NUM_TRAIN, help="training images (default: %(default)s)")
    add("--num-val", metavar="N", type=int, default=1000, help="validation images (default: %(default)s)")
    add("--num-test", metavar="N", type=int, default=1000, help="test images (default: %(default)s)")
    add("--seed", metavar="S", type=int, default=0, help="random seed; same seed, same dataset (default: %(default)s)")
    add("--font-dir", metavar="D", action="append", default=None,
        help="folder of .ttf/.otf fonts, searched recursively; repeat for several "
        "(default: the Debian handwriting fonts installed by `make system-deps`)")
    add("--word-list", metavar="FILE", action="append", default=None, dest="word_lists",
        help="plain-text word list, one word a line; repeat for several, sampled equally "
        "(default: /usr/share/dict/american-english and /usr/share/dict/ngerman)")
    add("--height", metavar="H", type=int, default=64, help="image height in pixels (default: %(default)s)")
    add("--workers", metavar="W", type=int, default=2,
        help="worker processes; the result does not depend on it (default: %(default)s)")
    add("--preview", metavar="N", type=int, default=0,
        help="only write a contact sheet of N samples with their labels to DIR/preview.png")
    add("--overwrite", action="store_true", help="regenerate even if DIR holds a dataset made with other settings")
    add("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (`htr-synth`, `python -m htr_lit.data.synthetic`)."""
    args = _parser().parse_args(argv)
    font_dir = args.font_dir[0] if args.font_dir and len(args.font_dir) == 1 else args.font_dir
    try:
        if args.preview > 0:
            path = preview(Path(args.out) / PREVIEW_FILE, args.preview, args.seed, font_dir, args.word_lists,
                           args.height)
            print(f"wrote {path}")
            return 0
        kwargs = dict(
            num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, seed=args.seed,
            font_dir=font_dir, word_lists=args.word_lists, height=args.height, num_workers=args.workers,
            progress=not args.quiet,
        )
        action = generate if args.overwrite else ensure_dataset
        root = action(args.out, **kwargs)
    except (FontError, WordListError, DatasetMismatchError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"dataset ready: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
