"""The samples of a synthetic dataset: which text and font each one gets, rendered in a pool of processes.

Each sample is drawn from its own generator seeded with (seed, split, index), so the dataset is identical
whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htr_lit.assets import FONTS_DIR
from htr_lit.data.synth.fonts import DEFAULT_FONT_DIRS, FontError, FontInfo, find_fonts
from htr_lit.data.synth.placenames import PlaceNameGenerator
from htr_lit.data.synth.render import render_word
from htr_lit.data.synth.render_canvas import render_canvas
from htr_lit.data.synth.render_line import line_text, render_line
from htr_lit.data.synth.spec import SyntheticSpec
from htr_lit.data.synth.words import WordSampler, load_word_lists

SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}  # split name -> id in the sample seed
_MODULE = "htr_lit.data.synth.samples"  # preloaded by the pool's forkserver (holds the worker functions)

NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzäöüÄÖÜß-"
Row = tuple[str, str, str]  # a labels CSV row: file_name, text, font


@dataclass(frozen=True)
class RenderPlan:
    """What every worker needs to make any sample: fonts grouped by family, the sampler, settings."""

    families: tuple[tuple[FontInfo, ...], ...]
    sampler: TextSampler
    seed: int
    height: int
    out_dir: Path | None = None
    style: str = "words"
    canvas_width: int = 256


def _group_by_family(fonts: Sequence[FontInfo]) -> tuple[tuple[FontInfo, ...], ...]:
    """Fonts grouped by family (in first-seen order), so that each family is drawn equally often."""
    groups: dict[str, list[FontInfo]] = {}
    for font in fonts:
        groups.setdefault(font.family or font.name, []).append(font)
    return tuple(tuple(g) for g in groups.values())


class TextSampler(Protocol):
    def sample(self, rng: np.random.Generator) -> str: ...


def _font_dirs(spec: SyntheticSpec) -> Sequence[str | Path] | str | None:
    """The spec's fonts; "names" adds the vendored handwriting fonts to the Debian ones by default."""
    if spec.font_dir is not None or spec.style != "names":
        return spec.font_dir
    return [*(d for d in DEFAULT_FONT_DIRS if d.is_dir()), FONTS_DIR]


def make_plan(spec: SyntheticSpec) -> tuple[RenderPlan, list[FontInfo]]:
    """Find the spec's fonts and load its texts (dictionary words, or place-name parts for "names")."""
    fonts = find_fonts(_font_dirs(spec))
    if spec.style == "names":  # names need capitals, umlauts, ß and hyphens in every font
        fonts = [f for f in fonts if f.supports(NAME_CHARS)] or fonts
        lists = [spec.word_lists] if isinstance(spec.word_lists, str) else list(spec.word_lists or [])
        words = {str(i): path for i, path in enumerate(lists)} if lists else None
        sampler: TextSampler = PlaceNameGenerator(seed=spec.seed, word_lists=words)
    else:
        sampler = WordSampler(load_word_lists(spec.word_lists))
    plan = RenderPlan(families=_group_by_family(fonts), sampler=sampler, seed=spec.seed, height=spec.height,
                      style=spec.style, canvas_width=spec.canvas_width)
    return plan, fonts


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
    if plan.style == "names":
        return text, font, render_canvas(text, font, rng, plan.height, plan.canvas_width)
    if plan.style == "lines":  # more words after the first, until the line fills about canvas_width
        text = line_text(plan.sampler.sample, font, rng, plan.height, plan.canvas_width, first=text)
        return text, font, render_line(text, font, rng, plan.height, plan.canvas_width)
    return text, font, render_word(text, font, rng, plan.height)


# --------------------------------------------------------------------------------------------- worker pool

_PLAN: RenderPlan | None = None  # set in each worker process by _init_worker


def _init_worker(plan: RenderPlan) -> None:
    """Pool initializer: keep the plan in the worker; one OpenCV thread per process."""
    global _PLAN
    _PLAN = plan
    cv2.setNumThreads(1)


def _write_sample(task: tuple[str, int]) -> Row:
    """Render one sample and write its PNG; returns its CSV row (file_name, text, font)."""
    assert _PLAN is not None and _PLAN.out_dir is not None
    split, index = task
    text, font, image = make_sample(_PLAN, SPLITS[split], index)
    file_name = f"images/{split}/{index:06d}.png"
    if not cv2.imwrite(str(_PLAN.out_dir / file_name), image):
        raise OSError(f"could not write {_PLAN.out_dir / file_name}")
    return file_name, text, font.name


@contextmanager
def _pool_context() -> Iterator[mp.context.BaseContext]:
    """Forkserver where available: forking a process that already runs OpenCV or torch thread pools can
    deadlock the children on a lock held by a thread that does not exist in them. The workers start with
    this module (never run as __main__, so never imported twice) and its rendering imports loaded.

    Inside a worker of another process library (joblib's loky, which Hydra's local_parallel launcher runs
    jobs in) the process's default start method is that library's own, and a child started from here could
    not resolve it ("cannot find context for 'loky'"): ours is the default while the pool starts."""
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    context = mp.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["__main__", _MODULE])
    current = mp.get_start_method(allow_none=True)
    foreign = current is not None and current not in mp.get_all_start_methods()
    if foreign:
        mp.set_start_method(method, force=True)
    try:
        yield context
    finally:
        if foreign:
            mp.set_start_method(current, force=True)


def render_all(plan: RenderPlan, out_dir: Path, tasks: list[tuple[str, int]], num_workers: int) -> Iterator[Row]:
    """Write the PNG of every (split, index) task under `out_dir`; yields their rows in task order,
    rendered in a process pool (or in this process for <= 1 worker)."""
    plan = replace(plan, out_dir=out_dir)
    if num_workers <= 1:
        global _PLAN
        previous, _PLAN = _PLAN, plan
        try:
            yield from map(_write_sample, tasks)
        finally:
            _PLAN = previous
        return
    chunk = max(1, min(64, len(tasks) // (num_workers * 8) or 1))
    with _pool_context() as context, context.Pool(num_workers, initializer=_init_worker, initargs=(plan,)) as pool:
        yield from pool.imap(_write_sample, tasks, chunksize=chunk)


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar; yields the function that advances it by one."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("synthetic words"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("render", total=total)
        yield lambda: progress.advance(task)


# --------------------------------------------------------------------------------------------- preview


def _label_font(size: int = 15) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A plain font for the preview labels (DejaVu Sans where installed)."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    return ImageFont.truetype(str(dejavu), size) if dejavu.is_file() else ImageFont.load_default(size=size)


def preview(out_path: str | Path, spec: SyntheticSpec, num: int = 24, columns: int = 3) -> Path:
    """Write a contact sheet of the first `num` training samples of `spec`, each with its label and font."""
    plan, _ = make_plan(spec)
    height = spec.height
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
