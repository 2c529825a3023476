"""Handwriting-style fonts for the synthetic data: where to find them and which characters each can draw.

A word is rendered only with a font that has a real glyph for every one of its characters, so each font
records its character set: the cmap of the font file, minus characters whose glyph draws nothing or draws
the same box as the "missing glyph" (several free fonts map ß or umlauts to an empty glyph).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont

from htr_lit.errors import UserError

FONT_ROOT = Path("/usr/share/fonts")

# The folders of the Debian packages installed by `make system-deps` (scripts/install_system_deps.sh).
DEFAULT_FONT_DIRS: tuple[Path, ...] = tuple(
    FONT_ROOT / sub
    for sub in (
        "opentype/dancingscript",  # fonts-dancingscript
        "opentype/kaushanscript",  # fonts-kaushanscript
        "truetype/kristi",  # fonts-kristi
        "truetype/breip",  # fonts-breip
        "truetype/fifthhorseman",  # fonts-dkg-handwriting
        "truetype/ecolier-court",  # fonts-ecolier-court
        "truetype/femkeklaver",  # fonts-femkeklaver
        "truetype/rufscript",  # fonts-rufscript
        "truetype/sjfonts",  # fonts-sjfonts
        "opentype/tlwg",  # fonts-tlwg-purisa-otf (only the Purisa files are taken, see DEFAULT_FONT_GLOBS)
        "opentype/lobster",  # fonts-lobster
        "opentype/havana",  # fonts-havana
    )
)

# opentype/tlwg may also hold the non-handwriting Thai fonts of other fonts-tlwg-* packages.
DEFAULT_FONT_GLOBS: dict[Path, str] = {FONT_ROOT / "opentype/tlwg": "Purisa*.otf"}

# Files left out after looking at their renderings (file name -> why); applies to every searched folder.
EXCLUDED_FONTS: dict[str, str] = {
    "dkgBI.ttf": "glyphs overlap their neighbours and swash descenders cross other letters (illegible)",
    "dkgIt.ttf": "glyphs overlap their neighbours and swash descenders cross other letters (illegible)",
}

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÜ"

# Glyphs not used although the font has them (file name -> (characters, why)), also from looking at them.
EXCLUDED_GLYPHS: dict[str, tuple[str, str]] = {
    "Ecolier-court.ttf": (_UPPER, "ornate copperplate capitals with swash underlines, not legible"),
    "femkeklaver.ttf": (_UPPER + "0123456789", "hollow outline capitals and digits (the I is a box)"),
}

FONT_EXTENSIONS = (".ttf", ".otf")

# Characters the word sampler can produce; only these are checked for a visible glyph.
CHECKED_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789äöüÄÖÜß.,!?-'"
)
LOWERCASE = frozenset("abcdefghijklmnopqrstuvwxyz")

_CHECK_SIZE = 32  # pixel size used to check that glyphs draw something


class FontError(UserError, RuntimeError):
    """No usable handwriting font was found (or a font file could not be read)."""


@dataclass(frozen=True)
class FontInfo:
    """A font file and the characters it can draw (only those from CHECKED_CHARS are verified)."""

    path: Path
    name: str
    chars: frozenset[str]
    family: str = ""

    def supports(self, text: str) -> bool:
        """True when every character of `text` has a visible glyph in this font."""
        return all(c == " " or c in self.chars for c in text)  # every font has a word space


@contextmanager
def _quiet_fonttools() -> Iterator[None]:
    """Silence fontTools' warnings about harmless table quirks (e.g. Havana's `post` table)."""
    logger = logging.getLogger("fontTools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _as_dirs(font_dir: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """Normalise the `font_dir` argument to a list of folders (None -> the Debian defaults)."""
    if font_dir is None:
        return list(DEFAULT_FONT_DIRS)
    if isinstance(font_dir, (str, Path)):
        return [Path(font_dir).expanduser()]
    return [Path(d).expanduser() for d in font_dir]


def _font_files(folder: Path) -> list[Path]:
    """Font files under `folder` (recursively), sorted so that the font order is deterministic."""
    if folder.is_file():
        return [folder] if folder.suffix.lower() in FONT_EXTENSIONS else []
    pattern = DEFAULT_FONT_GLOBS.get(folder)
    candidates = folder.glob(pattern) if pattern else folder.rglob("*")
    return sorted(p for p in candidates if p.is_file() and p.suffix.lower() in FONT_EXTENSIONS)


def _read_cmap(path: Path) -> tuple[set[str], str, str]:
    """The characters mapped by the font's cmap, its full name and its family (file stem if unnamed)."""
    with _quiet_fonttools():
        try:
            with TTFont(path, lazy=True) as font:
                cmap = font.getBestCmap() or {}
                names = font["name"] if "name" in font else None
                full_name = names.getDebugName(4) if names else None
                family = (names.getDebugName(16) or names.getDebugName(1)) if names else None
        except (TTLibError, OSError, KeyError, AssertionError) as err:
            raise FontError(f"cannot read font file {path}: {err}") from err
    return {chr(code) for code in cmap}, full_name or path.stem, family or path.stem


def _visible_chars(path: Path, mapped: set[str]) -> set[str]:
    """The checked characters that draw some ink and do not draw the font's missing-glyph box."""
    font = ImageFont.truetype(str(path), _CHECK_SIZE)
    notdef = _glyph_bytes(font, "\ue000") if "\ue000" not in mapped else None
    visible = set()
    for char in CHECKED_CHARS:
        if char not in mapped:
            continue
        glyph = _glyph_bytes(font, char)
        if glyph is not None and glyph != notdef:
            visible.add(char)
    return visible


def _usable_chars(path: Path, mapped: set[str]) -> set[str]:
    """The visible checked characters, minus those excluded for this font file (EXCLUDED_GLYPHS)."""
    excluded = EXCLUDED_GLYPHS.get(path.name, ("", ""))[0]
    return _visible_chars(path, mapped) - set(excluded)


def _glyph_bytes(font: ImageFont.FreeTypeFont, char: str) -> bytes | None:
    """The rendered glyph's pixels (cropped to the ink), or None when it draws nothing."""
    mask = font.getmask(char)
    bbox = mask.getbbox()
    if bbox is None:
        return None
    return bytes(mask.crop(bbox)) + repr(bbox[2] - bbox[0]).encode()


def _no_font_message(dirs: Sequence[Path], skipped: Sequence[str]) -> str:
    """The FontError text: where we looked, how to install the defaults, how to point elsewhere."""
    lines = ["no usable handwriting font found. Searched:"]
    lines += [f"  {d}" + ("" if d.exists() else " (does not exist)") for d in dirs]
    if skipped:
        lines += ["Skipped:", *[f"  {s}" for s in skipped]]
    lines += [
        "Install the default fonts with `make system-deps` (or `apt-get install fonts-dancingscript "
        "fonts-kaushanscript fonts-kristi fonts-breip fonts-dkg-handwriting fonts-ecolier-court "
        "fonts-femkeklaver fonts-rufscript fonts-sjfonts fonts-tlwg-purisa-otf fonts-lobster fonts-havana`),",
        "or point the config key `data.source.font_dir` (CLI: --font-dir) at a folder of .ttf/.otf "
        "handwriting fonts.",
    ]
    return "\n".join(lines)


def find_fonts(font_dir: str | Path | Sequence[str | Path] | None = None) -> list[FontInfo]:
    """Find usable fonts: readable, not excluded, with visible glyphs for all 26 lowercase letters.

    `font_dir` is a folder (searched recursively), a font file, a list of those, or None for the
    Debian handwriting fonts. Files with the same full font name are taken once. Raises FontError when
    nothing usable is found.
    """
    dirs = _as_dirs(font_dir)
    fonts: list[FontInfo] = []
    seen_names: set[str] = set()
    used_labels: set[str] = set()
    skipped: list[str] = []
    for path in (p for d in dirs for p in _font_files(d)):
        if path.name in EXCLUDED_FONTS:
            skipped.append(f"{path}: {EXCLUDED_FONTS[path.name]}")
            continue
        try:
            mapped, full_name, family = _read_cmap(path)
            chars = _usable_chars(path, mapped)
        except (FontError, OSError) as err:
            skipped.append(f"{path}: unreadable ({err})")
            continue
        if not LOWERCASE <= chars:
            skipped.append(f"{path}: lacks lowercase {''.join(sorted(LOWERCASE - chars))}")
            continue
        if full_name in seen_names:
            skipped.append(f"{path}: same font as an earlier file ({full_name})")
            continue
        seen_names.add(full_name)
        label = path.stem if path.stem not in used_labels else f"{path.parent.name}/{path.stem}"
        used_labels.add(label)
        fonts.append(FontInfo(path=path, name=label, chars=frozenset(chars), family=family))
    if not fonts:
        raise FontError(_no_font_message(dirs, skipped))
    return fonts
