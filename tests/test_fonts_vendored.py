"""The vendored handwriting fonts: listed, licensed, small, and drawing every German place-name character."""

from __future__ import annotations

import csv

import pytest
from fontTools.ttLib import TTFont
from PIL import ImageFont

from htr_lit.assets import FONTS_DIR, vendored_fonts
from htr_lit.data.synth.fonts import find_fonts

GERMAN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789äöüÄÖÜß-."


def _rows() -> list[dict[str, str]]:
    with open(FONTS_DIR / "fonts.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_listed_fonts_exist_with_licence_and_provenance():
    fonts = vendored_fonts()
    assert 40 <= len(fonts) <= 60 and len(set(fonts)) == len(fonts)
    for path, row in zip(fonts, _rows()):
        assert path.is_file() and path.suffix == ".ttf"
        assert (path.parent / "LICENSE").stat().st_size > 1000
        assert row["license"] in {"OFL-1.1", "Apache-2.0"}
        assert row["package"].startswith(f"@fontsource/{row['name']}@")
    on_disk = {p.relative_to(FONTS_DIR) for p in FONTS_DIR.rglob("*.ttf")}
    assert on_disk == {p.relative_to(FONTS_DIR) for p in fonts}  # nothing unlisted
    assert sum(p.stat().st_size for p in FONTS_DIR.rglob("*")) < 6 * 2**20


@pytest.mark.parametrize("path", vendored_fonts(), ids=lambda p: p.parent.name)
def test_font_maps_and_draws_german(path):
    with TTFont(path, lazy=True) as font:
        cmap = font.getBestCmap()
    assert not {c for c in GERMAN + " " if ord(c) not in cmap}
    font = ImageFont.truetype(str(path), 32)
    notdef = font.getmask("\ue000").getbbox()
    for char in GERMAN:
        box = font.getmask(char).getbbox()
        assert box is not None, char
        if notdef is not None:  # a glyph that draws the missing-glyph box is no glyph
            assert bytes(font.getmask(char)) != bytes(font.getmask("\ue000")), char
    wide = font.getbbox("ab cd")
    assert wide[2] - wide[0] > font.getbbox("abcd")[2] - font.getbbox("abcd")[0]  # the space has width


def test_the_synthetic_font_loader_accepts_every_vendored_font():
    """htr_lit.data.synth.fonts (used by the renderer) finds all of them when pointed at the folder."""
    found = find_fonts(FONTS_DIR)
    assert len(found) == len(vendored_fonts())
    assert all(set("äöüÄÖÜß") <= f.chars for f in found)
