"""Seeded generator of German place and street name strings (the text of synthetic DHSD-like images).

Names are composed from the vendored public lists (htr_lit/assets/names: GeoNames places, Faker person
names), hand-written toponym parts below, and optionally the Debian word lists; never from DHSD labels.
The only things taken from DHSD are aggregate statistics: the label length histogram and the charset
(measured once on its 4,815 labels and typed in below), so that sampled lengths resemble the target.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from htr_lit.assets import NAMES_DIR

# Characters a generated name may use (DHSD labels: letters, äöüÄÖÜß, space, hyphen, full stop, rare digits).
ALLOWED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZäöüÄÖÜß -.0123456789")
MIN_LEN, MAX_LEN = 3, 37

# DHSD label lengths 4..37: counts per length, measured on labels.csv (4,815 labels; mean 15.5, median 16).
# Aggregate statistic only, used as the target length distribution.
DHSD_LENGTH_COUNTS: dict[int, int] = {
    4: 11,
    5: 56,
    6: 136,
    7: 137,
    8: 132,
    9: 197,
    10: 220,
    11: 274,
    12: 281,
    13: 303,
    14: 273,
    15: 288,
    16: 346,
    17: 343,
    18: 339,
    19: 353,
    20: 300,
    21: 257,
    22: 167,
    23: 124,
    24: 106,
    25: 53,
    26: 46,
    27: 30,
    28: 12,
    29: 9,
    30: 4,
    31: 11,
    32: 3,
    33: 3,
    34: 1,
    35: 1,
    36: 1,
    37: 1,
}  # fmt: skip  (34-36 have no DHSD label; 1 added so the tail is not empty)

# What a sampled name is, with its probability (DHSD: ~64% are streets ending in Straße, 43% have a space).
DEFAULT_MODES: dict[str, float] = {"street": 0.66, "town": 0.25, "word": 0.09}

DEFAULT_WORD_LISTS: dict[str, Path] = {
    "de": Path("/usr/share/dict/ngerman"),  # Debian wngerman
    "en": Path("/usr/share/dict/american-english"),  # Debian wamerican
}

# Hand-written toponym parts (common German nouns and adjectives; not from any label list).
STREET_ROOTS = (
    "Linden Birken Eichen Buchen Ahorn Kastanien Tannen Erlen Weiden Pappel Eschen Ulmen Rosen Tulpen "
    "Nelken Flieder Holunder Mühlen Kirch Schul Bahnhof Garten Wiesen Feld Wald Berg Tal Bach Brunnen "
    "Quell Teich See Brücken Burg Schloss Markt Rathaus Post Hafen Damm Graben Anger Aue Heide Moor "
    "Acker Hof Dorf Sonnen Sommer Winter Frühling Morgen Abend Höhen Ring Wall Tor Turm Kloster Kapellen "
    "Friedhof Stein Sand Lehm Kies Eisen Kupfer Silber Gold Salz Glas Ziegel Weber Müller Schmiede Bäcker "
    "Fischer Jäger Schäfer Hirten Gärtner Färber Gerber Töpfer Zimmer Schützen Feuerwehr Sport Park "
    "Industrie Gewerbe Siedlungs Hohl Kreuz Lerchen Finken Drossel Amsel Meisen Schwalben Tauben Falken "
    "Adler Raben Eulen Storchen Hasen Fuchs Dachs Hirsch Reh Wolfs Bären Kirschen Apfel Birnen Pflaumen "
    "Wein Hopfen Korn Hafer Flachs Rüben Kohl Erbsen Bohnen Klee Mohn Veilchen Schlehen Hecken Grenz "
    "Land Fluss Insel Ufer Strand Hügel Kuppen Tränk Furt Steg Lange Kurze Breite Schmale Hohe Tiefe "
    "Neue Alte Obere Untere Mittel Vordere Hintere Nord Süd Ost West Sonnenblumen Gänse Enten Mittel"
).split()
STREET_SUFFIXES: dict[str, float] = {
    "straße": 0.62, "weg": 0.1, "gasse": 0.05, "allee": 0.04, "platz": 0.04, "ring": 0.04,
    "str.": 0.02, "steig": 0.02, "pfad": 0.02, "damm": 0.02, "ufer": 0.01, "berg": 0.02,
}  # fmt: skip
SPACED_STREET_WORDS: dict[str, float] = {
    "Straße": 0.75, "Weg": 0.1, "Gasse": 0.04, "Allee": 0.04, "Platz": 0.03, "Ring": 0.02, "Str.": 0.02,
}  # fmt: skip
# Adjective stems, inflected by the gender of the street word: Alte Gasse, Alter Weg, Altes Ufer.
ADJECTIVES = ("Alt", "Neu", "Lang", "Kurz", "Breit", "Hoh", "Ober", "Unter", "Groß", "Klein",
              "Hinter", "Vorder", "Still", "Grün", "Krumm", "Schmal", "Inner", "Äußer")  # fmt: skip
_MASCULINE = ("weg", "ring", "steig", "pfad", "damm", "berg", "platz")
_NEUTER = ("ufer",)
# "Am Steinbruch", "An der Kirche", "Im Winkel", "Auf dem Berg"
PREPOSITIONS: dict[str, tuple[str, ...]] = {
    "Am": (
        "Mühlbach Anger Berg Bach Hang Markt Rain Sportplatz Teich Wall Wald Graben Kirchberg Hain "
        "Steinbruch Eichenhain Lindenplatz Sonnenhang Feldrain Bahnhof Wasserturm Friedhof Park"
    ).split(),
    "An der": (
        "Kirche Mühle Schule Aue Brücke Linde Heide Weide Eiche Quelle Mauer Post Wiese Kapelle "
        "Schmiede Ziegelei Bahn Furt Steinkuhle Lache"
    ).split(),
    "Im": "Winkel Grund Tal Wiesengrund Gründchen Hof Feld Eck Dorf Park Holz Bruch Ried Loch".split(),
    "Auf dem": "Berg Anger Kamp Sand Hügel Bühl Rain".split(),
    "Zum": "Steinbruch Sportplatz Bahnhof Wasserwerk Friedhof Mühlteich Forsthaus Lindenhof".split(),
    "Zur": "Mühle Linde Schmiede Kirche Höhe Aue Heide Ziegelei".split(),
    "Hinter der": "Kirche Mühle Schule Mauer Scheune".split(),
    "Unter den": "Linden Eichen Buchen Weiden".split(),
}
STREET_OF = ("Straße der Einheit", "Straße des Friedens", "Straße der Jugend", "Platz der Freiheit",
             "Straße der Freundschaft", "Weg der Einheit", "Straße des Aufbaus", "Platz des Friedens",
             "Straße der Republik", "Straße des 17. Juni", "Platz der Einheit")  # fmt: skip
TOWN_ROOTS = (
    "Linden Eich Buch Ros Mühl Stein Kirch Wald Wies Sonn Berg Hain Hohen Falken Hirsch Wolf Eisen Salz "
    "Gold Silber Schön Grün Rot Weiß Schwarz Frei Königs Kaisers Herren Fried Marien Georgen Johann "
    "Ludwigs Wilhelms Ernst Karls Heinrichs Otten Alten Neuen Kalten Warm Tann Fichten Ahl Bruch Erl "
    "Hasel Wend Gerst Hafer Mark Burk Dornes Wüsten Reichen Lauter Schwarzen Weißen Ham Ros Brück Ober"
).split()
TOWN_SUFFIXES = ("dorf hausen heim berg burg feld bach stadt ingen au rode hagen kirchen brück born leben "
                 "stedt thal walde grün roda hain see furt brunn wald weiler hof münde").split()  # fmt: skip
TOWN_PREFIXES: dict[str, float] = {
    "Neu": 0.15, "Alt": 0.1, "Ober": 0.15, "Unter": 0.1, "Nieder": 0.1, "Groß": 0.12, "Klein": 0.12,
    "Hohen": 0.04, "Mittel": 0.04, "Wenigen": 0.02, "Bad ": 0.1, "Sankt ": 0.03, "St. ": 0.03,
}  # fmt: skip
RIVERS = ("Elbe", "Saale", "Oder", "Main", "Rhein", "Ilm", "Werra", "Mulde", "Elster", "Orla", "Unstrut",
          "Donau", "Weser", "Havel", "Spree", "Lahn", "Fulda", "Neckar", "Mosel", "Ruhr", "Leine")  # fmt: skip
TOWN_QUALIFIERS = ("an der {river}", "am {river2}", "bei {town}", "im Tal", "am See", "im Grund")
_MALE_RIVERS = frozenset({"Main", "Rhein", "Neckar"})


def _read_lines(path: Path, pattern: re.Pattern[str] | None = None) -> list[str]:
    """The non-empty lines of a UTF-8 list (that match `pattern`, when given), in file order."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [w for w in lines if w and (pattern is None or pattern.fullmatch(w))]


_WORD_RE = re.compile(r"[a-zA-ZäöüÄÖÜß]{3,18}")


@dataclass(frozen=True)
class NameLists:
    """The vocabularies the generator draws from (places, persons, and optional dictionary words)."""

    places: Sequence[str]
    first_names: Sequence[str]
    last_names: Sequence[str]
    words: Mapping[str, Sequence[str]]  # language -> words (may be empty)

    @classmethod
    def load(cls, names_dir: str | Path | None = None, word_lists: Mapping[str, str | Path] | None = None):
        """Read the vendored name lists and the word lists that exist (missing word lists are skipped)."""
        root = Path(names_dir) if names_dir is not None else NAMES_DIR
        lists = DEFAULT_WORD_LISTS if word_lists is None else {k: Path(v) for k, v in word_lists.items()}
        words = {lang: _read_lines(path, _WORD_RE) for lang, path in lists.items() if path.is_file()}
        return cls(
            places=_read_lines(root / "de_places.txt"),
            first_names=_read_lines(root / "de_first_names.txt"),
            last_names=_read_lines(root / "de_last_names.txt"),
            words={lang: ws for lang, ws in words.items() if ws},
        )


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _pick_weighted(rng: np.random.Generator, table: Mapping[str, float]) -> str:
    keys = list(table)
    probs = np.asarray([table[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=probs / probs.sum()))]


def _adjective_of(town: str) -> str | None:
    """'Weimar' -> 'Weimarer', 'Gotha' -> 'Gothaer', 'Rinne' -> 'Rinner'; None for multi-word towns."""
    if not town.isalpha():
        return None
    return town + ("r" if town.endswith("e") else "er")


class PlaceNameGenerator:
    """German street / town names and single words; `sample(rng)` draws one, `sample_many(n)` n in a row.

    `modes` weights the kinds ("street", "town", "word"); with `match_length` each name is drawn so that
    the lengths follow DHSD's length histogram (up to `length_tries` candidates per name).
    """

    def __init__(
        self,
        seed: int = 0,
        names_dir: str | Path | None = None,
        word_lists: Mapping[str, str | Path] | None = None,
        modes: Mapping[str, float] | None = None,
        match_length: bool = True,
        length_tries: int = 24,
    ) -> None:
        self.seed = seed
        self.lists = NameLists.load(names_dir, word_lists)
        self.modes = dict(DEFAULT_MODES if modes is None else modes)
        if not self.lists.words:
            self.modes.pop("word", None)  # no dictionary available: streets and towns only
        unknown = set(self.modes) - {"street", "town", "word"}
        if unknown or not self.modes:
            raise ValueError(f"modes must be a non-empty subset of street/town/word, got {dict(self.modes)}")
        self.match_length = match_length
        self.length_tries = length_tries
        lengths = np.asarray(list(DHSD_LENGTH_COUNTS), dtype=int)
        counts = np.asarray(list(DHSD_LENGTH_COUNTS.values()), dtype=float)
        self._lengths, self._length_p = lengths, counts / counts.sum()
        self._rng = np.random.default_rng(seed)
        self._makers: dict[str, Callable[[np.random.Generator], str]] = {
            "street": self.street, "town": self.town, "word": self.word,
        }  # fmt: skip

    # ---- public API
    def sample(self, rng: np.random.Generator) -> str:
        """One name drawn with `rng` (only `rng` is used, so a seeded rng gives a reproducible name)."""
        target = int(rng.choice(self._lengths, p=self._length_p)) if self.match_length else None
        best = None
        for _ in range(self.length_tries if target is not None else 1):
            name = self._makers[_pick_weighted(rng, self.modes)](rng)
            if not self.valid(name):
                continue
            if target is None or abs(len(name) - target) <= 1:
                return name
            if best is None or abs(len(name) - target) < abs(len(best) - target):
                best = name
        return best if best is not None else _pick(rng, [p for p in self.lists.places if self.valid(p)])

    def sample_many(self, n: int) -> list[str]:
        """The next `n` names of this generator's own seeded stream."""
        return [self.sample(self._rng) for _ in range(n)]

    @staticmethod
    def valid(name: str) -> bool:
        """Within MIN_LEN..MAX_LEN characters, only ALLOWED_CHARS, no double or edge spaces."""
        return (
            MIN_LEN <= len(name) <= MAX_LEN
            and set(name) <= ALLOWED_CHARS
            and name == name.strip()
            and "  " not in name
        )

    # ---- the kinds
    def street(self, rng: np.random.Generator) -> str:
        """A street name: compound, town adjective + Straße, person name, preposition, adjective, fixed."""
        kind = _pick_weighted(rng, {"compound": 0.36, "town_adj": 0.24, "person": 0.14, "prep": 0.1,
                                    "adjective": 0.1, "noun": 0.03, "fixed": 0.03})  # fmt: skip
        if kind == "compound":  # Lindenstraße, Schäfergasse, Goethestraße
            root = _pick(rng, self.lists.last_names) if rng.random() < 0.2 else _pick(rng, STREET_ROOTS)
            return root + _pick_weighted(rng, STREET_SUFFIXES)
        if kind == "town_adj":  # Weimarer Straße
            adjective = _adjective_of(_pick(rng, self.lists.places))
            if adjective is None:
                return self.street(rng)
            return f"{adjective} {_pick_weighted(rng, SPACED_STREET_WORDS)}"
        if kind == "person":  # Max-Planck-Straße, Dr.-Otto-Straße, Käthe-Kollwitz-Platz
            return self._person_street(rng)
        if kind == "prep":  # Am Steinbruch, An der Kirche
            prep = _pick(rng, list(PREPOSITIONS))
            return f"{prep} {_pick(rng, PREPOSITIONS[prep])}"
        if kind == "adjective":  # Untere Bachgasse, Alte Dorfstraße
            suffix = _pick_weighted(rng, STREET_SUFFIXES)
            ending = "er" if suffix in _MASCULINE else "es" if suffix in _NEUTER else "e"
            return f"{_pick(rng, ADJECTIVES)}{ending} {_pick(rng, STREET_ROOTS)}{suffix}"
        if kind == "noun" and "de" in self.lists.words:  # a dictionary noun as root: Apfelbaumweg
            nouns = self.lists.words["de"]
            noun = _pick(rng, nouns)
            if noun[0].isupper():
                return noun + _pick_weighted(rng, STREET_SUFFIXES)
        return _pick(rng, STREET_OF)

    def _person_street(self, rng: np.random.Generator) -> str:
        last = _pick(rng, self.lists.last_names)
        word = "Straße" if rng.random() < 0.8 else _pick(rng, ["Weg", "Platz", "Ring", "Allee", "Str."])
        first_kind = rng.random()
        if first_kind < 0.6:
            first = _pick(rng, self.lists.first_names)
        elif first_kind < 0.75:
            first = "Dr."
        elif first_kind < 0.85:
            first = _pick(rng, self.lists.first_names)[0] + "."
        else:
            return f"{last}-{word}" if rng.random() < 0.5 else f"{last}{word.lower()}"
        return f"{first}-{last}-{word}"

    def town(self, rng: np.random.Generator) -> str:
        """A town name: a real place (GeoNames), a prefixed place, a composed name, or one with a qualifier."""
        kind = rng.random()
        if kind < 0.45:
            return _pick(rng, self.lists.places)
        if kind < 0.6:  # Oberwiesenthal-like: prefix + real place
            prefix = _pick_weighted(rng, TOWN_PREFIXES)
            place = _pick(rng, self.lists.places)
            if prefix.endswith(" ") or rng.random() < 0.3:
                return f"{prefix.strip()}{' ' if prefix.endswith(' ') else '-'}{place}"
            return prefix + place.lower() if place.isalpha() else f"{prefix}-{place}"
        name = _pick(rng, TOWN_ROOTS) + _pick(rng, TOWN_SUFFIXES)  # composed: Lindenhausen, Steinrode
        if rng.random() < 0.35:
            prefix = _pick_weighted(rng, TOWN_PREFIXES)
            name = prefix + (name if prefix.endswith(" ") else name.lower())
        if kind > 0.88:  # Neustadt an der Orla, Lindenau bei Gotha
            qualifier = _pick(rng, TOWN_QUALIFIERS)
            river = _pick(rng, RIVERS)
            if "{river2}" in qualifier and river not in _MALE_RIVERS:
                qualifier = "an der {river}"
            name += " " + qualifier.format(river=river, river2=river, town=_pick(rng, self.lists.places))
        return name

    def word(self, rng: np.random.Generator) -> str:
        """A single dictionary word (German 2/3, English 1/3 where both lists exist), first letter upper."""
        langs = sorted(self.lists.words)
        probs = np.asarray([2.0 if lang == "de" else 1.0 for lang in langs])
        lang = langs[int(rng.choice(len(langs), p=probs / probs.sum()))]
        word = _pick(rng, self.lists.words[lang])
        if rng.random() < 0.15:  # joined like a compound name: Sommer-Garten
            word = f"{word}-{_pick(rng, self.lists.words[lang]).capitalize()}"
        return word[0].upper() + word[1:]
