"""`htr-data iam`: check a user's IAM download (it needs a registration, so it cannot be fetched for them)
and write word-level `train.csv`/`val.csv`/`test.csv` labels CSVs for a standard writer-independent split,
with writer ids from forms.txt. Everything missing is named in one message, with where to get it."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from htr_lit.data import formats
from htr_lit.data.sample import Sample
from htr_lit.errors import UserError

log = logging.getLogger(__name__)

IAM_PAGE = "https://fki.tic.heia-fr.ch/databases/iam-handwriting-database"  # registration, then "Download"
AACHEN_PAGE = "https://github.com/shonenkov/IAM-Splitting (folder IAM-A)"
# split name -> the list files it unions, per scheme. "official": the Large Writer Independent Text Line
# Recognition Task (both validation sets as val); "aachen": the RWTH Aachen partition (IAM-A).
SCHEMES: dict[str, dict[str, tuple[str, ...]]] = {
    "official": {"train": ("trainset.txt",), "val": ("validationset1.txt", "validationset2.txt"),
                 "test": ("testset.txt",)},
    "aachen": {"train": ("train.txt",), "val": ("valid.txt",), "test": ("test.txt",)},
}
SCHEME_SOURCES = {
    "official": "largeWriterIndependentTextLineRecognitionTask.zip from the IAM page",
    "aachen": AACHEN_PAGE,
}
# where each scheme's lists are looked for, under --root ("." is --root itself)
SPLIT_DIRS = {"official": (".", "largeWriterIndependentTextLineRecognitionTask", "splits"),
              "aachen": ("splits", "IAM-A", ".")}
ASCII_DIRS = (".", "ascii")  # words.txt and forms.txt: in --root or root/ascii (ascii.tgz unpacked)
COLUMNS = ("file_name", "text", "writer_id")
_MAX_NAMED = 5


class IAMFilesError(UserError, FileNotFoundError):
    """Parts of the IAM download are missing or unusable; the message lists each with where to get it."""


@dataclass(frozen=True)
class IAMFiles:
    """The located pieces of an IAM download."""

    words_txt: Path
    words_dir: Path
    forms_txt: Path | None
    split_lists: dict[str, list[Path]]  # split -> its id list files


def _first(dirs: Sequence[Path], name: str) -> Path | None:
    return next((d / name for d in dirs if (d / name).is_file()), None)


def _shown(root: Path, dirs: Sequence[Path]) -> str:
    """``ROOT, ROOT/ascii`` style: the folders looked in, relative to `root` where they are under it."""
    return ", ".join("ROOT" if d == root else f"ROOT/{d.relative_to(root)}" if d.is_relative_to(root) else str(d)
                     for d in dirs)


def _split_lists(root: Path, scheme: str, splits_dir: str | Path | None,
                 missing: list[str]) -> dict[str, list[Path]]:
    """split -> the scheme's list files found; the missing ones are added to `missing`, one line per scheme."""
    if scheme not in SCHEMES:
        raise IAMFilesError(f"unknown split scheme {scheme!r}; choose one of {sorted(SCHEMES)}")
    dirs = [Path(splits_dir).expanduser().absolute()] if splits_dir else [root / d for d in SPLIT_DIRS[scheme]]
    found: dict[str, list[Path]] = {}
    absent = []
    for split, names in SCHEMES[scheme].items():
        for name in names:
            path = _first(dirs, name)
            if path is None:
                absent.append(name)
            else:
                found.setdefault(split, []).append(path)
    if absent:
        missing.append(f"the {scheme} split list(s) {', '.join(absent)} (looked in {_shown(root, dirs)}): "
                       f"{SCHEME_SOURCES[scheme]}")
    return found


def locate(root: str | Path, scheme: str = "official", splits_dir: str | Path | None = None,
           split_files: Mapping[str, str | Path] | None = None) -> IAMFiles:
    """Find words.txt, the words/ image tree, forms.txt and the split lists under `root`.

    `split_files` (split -> one id list) replaces the scheme's lists. Raises IAMFilesError naming every
    missing piece at once; forms.txt is optional (without it a form stands in for its writer).
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise IAMFilesError(f"{root}: IAM folder not found")
    missing: list[str] = []
    ascii_dirs = [root / d for d in ASCII_DIRS]
    words_txt, forms_txt = _first(ascii_dirs, "words.txt"), _first(ascii_dirs, "forms.txt")
    if words_txt is None:
        missing.append(f"words.txt (looked in {_shown(root, ascii_dirs)}): unpack ascii.tgz from the IAM page "
                       "into ROOT/ascii")
    words_dir = root / "words"
    if not words_dir.is_dir():
        missing.append("the word images ROOT/words/a01/a01-000u/a01-000u-00-00.png ...: unpack words.tgz from the "
                       "IAM page into ROOT/words")
    if split_files:
        split_lists = {split: [Path(given).expanduser().absolute()] for split, given in split_files.items()}
        missing += [f"the {split} id list {paths[0]} (given on the command line)"
                    for split, paths in split_lists.items() if not paths[0].is_file()]
    else:
        split_lists = _split_lists(root, scheme, splits_dir, missing)
    if missing:
        raise IAMFilesError(f"the IAM download in ROOT={root} is incomplete; missing:\n"
                            + "\n".join(f"  - {m}" for m in missing)
                            + f"\nThe IAM page (registration needed): {IAM_PAGE}")
    assert words_txt is not None
    return IAMFiles(words_txt=words_txt, words_dir=words_dir, forms_txt=forms_txt, split_lists=split_lists)


def read_ids(paths: Sequence[Path]) -> set[str]:
    """The ids (first field of each non-blank, non-``#`` line) of the given list files, together."""
    ids: set[str] = set()
    for path in paths:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip() and not raw.lstrip().startswith("#"):
                ids.add(raw.split()[0])
    return ids


def _unusable_images(samples: Sequence[Sample]) -> list[Sample]:
    """The samples whose image is missing or empty (a few IAM word images are 0-byte files)."""
    return [s for s in samples if not s.path.is_file() or s.path.stat().st_size == 0]


def _image_link(out: Path, words_dir: Path) -> Path:
    """The folder under `out` through which the CSVs name the images: `words_dir` itself when it is inside
    `out`, else a symbolic link `out/words` to it (labels CSV file names must stay inside their folder)."""
    if Path(os.path.normpath(words_dir)).is_relative_to(Path(os.path.normpath(out))):
        return words_dir
    link = out / "words"
    if link.is_symlink() and Path(os.readlink(link)) == words_dir:
        return link
    if link.exists() or link.is_symlink():
        raise IAMFilesError(f"{link} exists and is not a link to {words_dir}; choose another --out")
    link.symlink_to(words_dir, target_is_directory=True)
    return link


def write_csv(path: Path, rows: Sequence[tuple[str, str, str]]) -> None:
    """A labels CSV (file_name,text,writer_id; UTF-8, RFC 4180 quoting: IAM texts contain , and ")."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def _named(samples: Sequence[Sample]) -> str:
    return "\n".join(f"  {s.origin}: {s.path}" for s in samples[:_MAX_NAMED])


def write_splits(files: IAMFiles, out: str | Path, skip_err: bool = False,
                 skip_missing_images: bool = False) -> dict[str, tuple[Path, int, int]]:
    """Write `out/{train,val,test}.csv` from the located IAM files; split -> (CSV, images, writers).

    Words whose image is missing or empty raise (naming the words.txt lines), or are left out and counted
    with `skip_missing_images`. `skip_err` drops words whose segmentation IAM flags as ``err``.
    """
    out = Path(out).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    per_split = {
        split: formats.read_iam_words(files.words_txt, files.words_dir, split_ids=read_ids(paths),
                                      skip_err=skip_err, forms_txt=files.forms_txt)
        for split, paths in files.split_lists.items()
    }
    bad = [s for samples in per_split.values() for s in _unusable_images(samples)]
    if bad and not skip_missing_images:
        raise IAMFilesError(f"{len(bad)} word image(s) listed in {files.words_txt} are missing or empty under "
                            f"{files.words_dir}, e.g.\n{_named(bad)}\n(--skip-missing-images leaves them out)")
    if bad:
        log.warning("left out %d word(s) whose image is missing or empty, e.g.\n%s", len(bad), _named(bad))
    skip = {s.path for s in bad}
    images = _image_link(out, files.words_dir)
    written = {}
    for split, samples in per_split.items():
        rows = [(Path(os.path.relpath(images / s.path.relative_to(files.words_dir), out)).as_posix(), s.text,
                 s.writer_id if s.writer_id is not None else s.path.parent.name)  # no forms.txt: the form id
                for s in samples if s.path not in skip]
        write_csv(out / f"{split}.csv", rows)
        written[split] = (out / f"{split}.csv", len(rows), len({r[2] for r in rows}))
    if files.forms_txt is None:
        log.warning("no forms.txt (in ascii.tgz): writer_id is the form id, so a writer of several forms "
                    "counts as several writers")
    return written
