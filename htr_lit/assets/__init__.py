"""Data files shipped inside the package: handwriting fonts (fonts/), place-name lists (names/) and the shipped
models (models/, see its README.md).

Both are vendored so that synthetic data can be made offline; scripts/fetch_fonts.py and
scripts/build_name_lists.py re-create them from the package registries.
"""

from __future__ import annotations

import csv
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
FONTS_DIR = ASSETS_DIR / "fonts"
NAMES_DIR = ASSETS_DIR / "names"
MODELS_DIR = ASSETS_DIR / "models"


def vendored_fonts() -> list[Path]:
    """The vendored handwriting font files, in fonts.csv order (absolute paths, all existing)."""
    with open(FONTS_DIR / "fonts.csv", encoding="utf-8", newline="") as handle:
        return [FONTS_DIR / row["file"] for row in csv.DictReader(handle)]
