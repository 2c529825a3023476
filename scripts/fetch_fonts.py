"""Re-create htr_lit/assets/fonts/ from the npm registry (`npm pack @fontsource/<name>@<version>`).

Each font is the package's latin subset, weight 400, normal style, shipped there as WOFF; it is unpacked
to a plain .ttf with fontTools (WOFF 1 is zlib-compressed sfnt tables, so the conversion is lossless and
needs no brotli) so that Pillow and fontTools read it without extra codecs. The package's LICENSE is
copied beside it and fonts.csv lists name, file, licence and package@version. Timestamps are kept, so a
re-run with the same pinned versions gives the same bytes. Run from the repository root:

    python scripts/fetch_fonts.py            # needs npm and the network; the product uses the copy
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from fontTools.ttLib import TTFont

NPM_SCOPE = "@fontsource"
# Chosen after rendering German place names with ~80 @fontsource handwriting fonts: legible Latin hands
# with real glyphs for a-z A-Z 0-9 äöüÄÖÜß - . and space. Left out: all-caps or small-caps hands
# (amatic-sc, patrick-hand-sc, rock-salt, walter-turncoat, give-you-glory, just-me-again-down-here),
# fonts without umlauts/ß (nanum-pen-script, nanum-brush-script, single-day, zhi-mang-xing,
# league-script), type-like designs (comic-neue, klee-one, itim, nerko-one, fuzzy-bubbles), and
# ornate scripts that are not legible or drop word spaces (meddon, monsieur-la-doulaise,
# herr-von-muellerhoff, mrs-saint-delafield, ruthie, mr-dafoe).
FONTS: dict[str, str] = {
    # print-like hands
    "annie-use-your-telescope": "5.3.0",
    "architects-daughter": "5.3.0",
    "calligraffitti": "5.3.0",
    "caveat": "5.3.0",
    "caveat-brush": "5.3.0",
    "coming-soon": "5.3.0",
    "covered-by-your-grace": "5.3.0",
    "crafty-girls": "5.3.0",
    "delius": "5.3.0",
    "gloria-hallelujah": "5.3.0",
    "gochi-hand": "5.3.0",
    "grape-nuts": "5.3.0",
    "handlee": "5.3.0",
    "indie-flower": "5.3.0",
    "just-another-hand": "5.3.0",
    "kalam": "5.3.0",
    "loved-by-the-king": "5.3.0",
    "mali": "5.3.0",
    "mynerve": "5.3.0",
    "neucha": "5.3.0",
    "nothing-you-could-do": "5.3.0",
    "over-the-rainbow": "5.3.0",
    "patrick-hand": "5.3.0",
    "reenie-beanie": "5.3.0",
    "schoolbell": "5.3.0",
    "shadows-into-light": "5.3.0",
    "shadows-into-light-two": "5.3.0",
    "short-stack": "5.3.0",
    "sriracha": "5.3.0",
    "sue-ellen-francisco": "5.3.0",
    "swanky-and-moo-moo": "5.3.0",
    "the-girl-next-door": "5.3.0",
    "waiting-for-the-sunrise": "5.3.0",
    "zeyada": "5.3.0",
    # cursive and script hands
    "alex-brush": "5.3.0",
    "allura": "5.3.0",
    "bilbo": "5.3.0",
    "cedarville-cursive": "5.3.0",
    "cookie": "5.3.0",
    "damion": "5.3.0",
    "dancing-script": "5.3.0",
    "dawning-of-a-new-day": "5.3.0",
    "great-vibes": "5.3.0",
    "homemade-apple": "5.3.0",
    "italianno": "5.3.0",
    "kristi": "5.3.0",
    "la-belle-aurore": "5.3.0",
    "marck-script": "5.3.0",
    "ms-madi": "5.3.0",
    "norican": "5.3.0",
    "pacifico": "5.3.0",
    "parisienne": "5.3.0",
    "playball": "5.3.0",
    "qwigley": "5.2.8",
    "sacramento": "5.3.0",
    "satisfy": "5.3.0",
    "yellowtail": "5.3.0",
}
SUBSET_FILE = "{name}-latin-400-normal.woff"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "htr_lit" / "assets" / "fonts"
CSV_FIELDS = ("name", "file", "license", "package", "family")


def npm_pack(spec: str, dest: Path) -> Path:
    """Download one npm package tarball into `dest` and return its path."""
    out = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(dest), spec],
        check=True,
        capture_output=True,
        text=True,
    )
    return dest / out.stdout.strip().splitlines()[-1]


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    """The bytes of `package/<name>` inside an npm tarball."""
    handle = tar.extractfile(f"package/{name}")
    if handle is None:
        raise FileNotFoundError(name)
    return handle.read()


def vendor_font(name: str, version: str, out_root: Path, work: Path) -> dict[str, str]:
    """Fetch one @fontsource package, write <out_root>/<name>/<name>-latin-400-normal.ttf + LICENSE."""
    tgz = npm_pack(f"{NPM_SCOPE}/{name}@{version}", work)
    target = out_root / name
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        meta = json.loads(_member(tar, "package.json"))
        (target / "LICENSE").write_bytes(_member(tar, "LICENSE"))
        woff = work / SUBSET_FILE.format(name=name)
        woff.write_bytes(_member(tar, f"files/{woff.name}"))
    font = TTFont(woff, recalcTimestamp=False)
    font.flavor = None  # WOFF -> plain sfnt
    ttf = target / woff.with_suffix(".ttf").name
    font.save(ttf)
    family = font["name"].getDebugName(1) or name
    return {
        "name": name,
        "file": f"{name}/{ttf.name}",
        "license": str(meta.get("license", "")),
        "package": f"{NPM_SCOPE}/{name}@{meta['version']}",
        "family": family,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fonts folder to (re)write")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js/npm (Debian: apt-get install npm)")
    out_root: Path = args.out
    out_root.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version in FONTS.items():
            rows.append(vendor_font(name, version, out_root, Path(tmp)))
            print(f"{rows[-1]['package']}: {rows[-1]['file']} ({rows[-1]['license']})")
    with open(out_root / "fonts.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} fonts in {out_root}")


if __name__ == "__main__":
    main()
