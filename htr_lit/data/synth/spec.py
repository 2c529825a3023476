"""SyntheticSpec: the settings that define a synthetic dataset's content, with their defaults, in one place.

The CLI, the library (`generate`, `ensure_dataset`, `preview`), the `SyntheticSource` config option and the
cache check of meta.json all take this one object, so a default cannot drift between them. How the data is
made (worker processes, progress bar) is not part of it: it does not change a single byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

GENERATOR_VERSION = "htr-lit-synth/1"  # bump when the same spec would render other images
DEFAULT_NUM_WORKERS = 2

STYLES = ("words", "names", "lines")

PathsArg = str | Path | Sequence[str | Path] | None
Paths = str | tuple[str, ...] | None


def _paths(value: PathsArg) -> Paths:
    """One path as a string, several as a tuple of strings; None (or no path at all) means the defaults."""
    if value is None or isinstance(value, (str, Path)):
        return None if value is None else str(value)
    return tuple(str(v) for v in value) or None


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic dataset is: images per split, seed, style, fonts, word lists and image height.

    `style`: "words" (single dictionary words cropped tight, the original data) or "names" (German place
    and street names, multi-word with spaces and hyphens, written on a `height` x `canvas_width` canvas as
    real form scans look: see render_canvas) or "lines" (dictionary words joined with spaces until the line
    fills about `canvas_width`, on a `height` x `canvas_width` image: see render_line). `font_dir`: a folder
    of .ttf/.otf fonts (searched recursively), a font file, several of those, or None for the default fonts
    (the Debian handwriting fonts; for "names" also the 57 vendored Google handwriting fonts). `word_lists`:
    plain-text lists (one word a line), or None for the Debian English and German dictionaries. Same spec,
    same dataset, byte for byte.
    """

    num_train: int = 16000  # `make data` renders what `make train` uses (conf/data/synthetic.yaml)
    num_val: int = 1000
    num_test: int = 1000
    seed: int = 0
    font_dir: Paths = None
    word_lists: Paths = None
    height: int = 64
    style: str = "words"
    canvas_width: int = 256  # "names" and "lines" (the line width) only

    def __post_init__(self) -> None:
        for name in ("num_train", "num_val", "num_test", "seed", "height"):
            object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "font_dir", _paths(self.font_dir))
        object.__setattr__(self, "word_lists", _paths(self.word_lists))
        object.__setattr__(self, "canvas_width", int(self.canvas_width))
        if self.style not in STYLES:
            raise ValueError(f"style={self.style!r}: choose one of {', '.join(STYLES)}")
        if self.height < 8:
            raise ValueError(f"height must be at least 8 pixels, got {self.height}")
        negative = [f"num_{k}={v}" for k, v in self.counts().items() if v < 0]
        if negative:
            raise ValueError(f"image counts cannot be negative: {', '.join(negative)}")

    def counts(self) -> dict[str, int]:
        """Images per split: {"train": num_train, "val": num_val, "test": num_test}."""
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}

    def identity(self) -> dict[str, Any]:
        """The spec as meta.json stores it under "args" and compares it on reuse (paths as JSON lists)."""
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if self.style == "words":  # the original style: identical to what datasets made before styles store
            del fields["style"], fields["canvas_width"]
        return {"generator_version": GENERATOR_VERSION, **fields}


DEFAULT_SPEC = SyntheticSpec()
