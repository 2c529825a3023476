"""Readers for the on-disk dataset formats: a labels CSV, IAM ``words.txt`` and a folder of ``.gt.txt`` files.

Each reader only parses: it returns `Sample`s with absolute paths and an `origin` naming file and line,
and raises `DatasetFormatError` for files it cannot parse. Whether images exist or texts are empty is
checked elsewhere (the validation layer).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from htr_lit.data.sample import Sample
from htr_lit.errors import UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"})
CSV_REQUIRED_COLUMNS = ("file_name", "text")
IAM_MIN_FIELDS = 9
_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_NAMED = 5


class DatasetFormatError(UserError, ValueError):
    """A dataset file that cannot be parsed; the message names the file (and line) and the reason."""


def _where(path: Path, line: int | None = None) -> str:
    """``/abs/file:12`` (or just the file) for messages and `Sample.origin`."""
    return f"{path}:{line}" if line is not None else str(path)


def _fail(path: Path, reason: str, line: int | None = None) -> DatasetFormatError:
    """Build the error for `path` (and `line`) so every message has the same ``file:line: reason`` shape."""
    return DatasetFormatError(f"{_where(path, line)}: {reason}")


def _existing_file(path: str | Path, what: str) -> Path:
    """Return `path` as an absolute (not symlink-resolved) path, or raise if it is not a file."""
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise _fail(p, f"{what} not found")
    if not p.is_file():
        raise _fail(p, f"{what} is not a file")
    return p


def _read_utf8(path: Path) -> str:
    """Decode `path` as UTF-8 (dropping a leading BOM); on bad bytes name the byte offset and line."""
    data = path.read_bytes()
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        line = data.count(b"\n", 0, offset) + 1
        raise _fail(
            path,
            f"not valid UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} (save the file as UTF-8)",
            line,
        ) from None


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, stripped line)`` for non-blank, non-``#`` lines of a UTF-8 text file."""
    for number, raw in enumerate(_read_utf8(path).splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


# --------------------------------------------------------------------------------------------- labels CSV


CSV_DELIMITERS = (",", ";", "\t")  # ";": spreadsheets set to a German (or other decimal-comma) locale


def _delimiter(text: str) -> str:
    """The delimiter whose split of the header line holds the required columns: a comma, or the semicolon of
    a spreadsheet's German CSV export, or a tab; a comma when none does (the error then names the header)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    for delimiter in CSV_DELIMITERS:
        names = {name.strip().strip('"') for name in header.split(delimiter)}
        if set(CSV_REQUIRED_COLUMNS) <= names:
            return delimiter
    return ","


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line of the row, fields)`` for non-blank CSV rows, turning csv errors into ours."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _fail(path, f"CSV syntax error: {e}", start) from None
        if row:
            yield start, row


def _header_index(path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Map column name -> index (names stripped), raising if a required column is missing."""
    names = [h.strip() for h in header]
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in names]
    if missing:
        hint = " (columns are separated by ',', ';' or a tab)" if len(names) == 1 else ""
        raise _fail(path, f"missing required column(s) {missing}; header has columns {names}{hint}", line)
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    return index


def _inside(root: Path, file_name: str) -> Path | None:
    """`root / file_name` if it stays inside `root` (lexically: symlinked data folders are fine), else None."""
    if Path(file_name).is_absolute():
        return None
    root = Path(os.path.normpath(root))  # a root given as ".../repo/../shared/x" must compare lexically too
    joined = Path(os.path.normpath(root / file_name))
    return joined if joined.is_relative_to(root) else None


def read_labels_csv(csv_path: str | Path, image_root: str | Path | None = None,
                    allow_absolute: bool = False) -> list[Sample]:
    """Read a ``file_name,text[,writer_id]`` CSV (UTF-8, BOM ok; `;` or tab instead of `,` when the header
    uses it); file names are relative to `image_root` (default: the CSV's folder).

    A file that cannot be parsed raises. A row that cannot be used (wrong number of fields, empty
    file_name, a file_name outside the image root: absolute or escaping with ``..``) is returned
    with `Sample.problem` set, so the datamodule lists or skips it with every other bad row.
    `allow_absolute=True` is for a CSV one wrote oneself: absolute file names and ones leaving the image root
    with ``..`` are then read where they point, as predict reads a list file's paths.
    Image existence and empty texts are left to the validation layer.
    """
    path = _existing_file(csv_path, "labels CSV")
    root = Path(image_root).expanduser() if image_root is not None else path.parent
    if not root.is_dir():
        raise _fail(path, f"image_root {root} is not a folder")
    rows = _csv_rows(path, _read_utf8(path))
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise _fail(
            path, f"empty file: expected a header with columns {list(CSV_REQUIRED_COLUMNS)}"
        ) from None
    cols = _header_index(path, header_line, header)
    writer_col = cols.get("writer_id")
    samples = []
    for line, row in rows:
        origin = _where(path, line)
        if len(row) != len(header):
            problem = f"row has {len(row)} field(s) but the header has {len(header)}: {row!r}"
            samples.append(Sample(path=path.parent, text="", origin=origin, problem=problem))
            continue
        file_name = row[cols["file_name"]]
        image = (root / Path(file_name).expanduser()) if allow_absolute else _inside(root, file_name)
        problem = ""
        if not file_name.strip():
            problem = "empty file_name"
        elif image is None:
            problem = (f"file_name {file_name!r} points outside the dataset folder {root} (a CSV you wrote "
                       "yourself may name images anywhere: allow_absolute=true, or image_root=FOLDER)")
        writer = row[writer_col].strip() if writer_col is not None else ""
        samples.append(
            Sample(
                path=image if image is not None and not problem else root,
                text=row[cols["text"]].removesuffix("\r"),
                writer_id=writer or None,
                origin=origin,
                problem=problem,
            )
        )
    return samples


# --------------------------------------------------------------------------------------------- IAM words.txt


def _read_id_list(split_ids: str | Path | Iterable[str]) -> set[str]:
    """Ids from a split file (one per line, blank and ``#`` lines ignored) or from an iterable of ids."""
    if isinstance(split_ids, (str, Path)):
        path = _existing_file(split_ids, "split id list")
        return {line.split()[0] for _, line in _text_lines(path)}
    return {str(i).strip() for i in split_ids if str(i).strip()}


def read_iam_forms(forms_txt: str | Path) -> dict[str, str]:
    """Map IAM form id -> writer id from ``forms.txt`` (lines ``a01-000u 000 2 prt ...``: form, writer)."""
    path = _existing_file(forms_txt, "IAM forms.txt")
    writers = {}
    for number, line in _text_lines(path):
        fields = line.split()
        if len(fields) < 2:
            raise _fail(path, f"expected '<form id> <writer id> ...', got {line!r}", number)
        writers[fields[0]] = fields[1]
    return writers


def _iam_ids(path: Path, number: int, word_id: str) -> tuple[str, str, str]:
    """Split ``a01-000u-00-00`` into (folder ``a01``, form ``a01-000u``, line ``a01-000u-00``)."""
    parts = word_id.split("-")
    if len(parts) != 4 or not all(parts):
        raise _fail(path, f"word id {word_id!r} is not of the form 'a01-000u-00-00'", number)
    return parts[0], f"{parts[0]}-{parts[1]}", f"{parts[0]}-{parts[1]}-{parts[2]}"


def _warn_unmatched_ids(wanted: set[str], matched: set[str]) -> None:
    """Log the split-list ids that selected no word (usually a typo or a list for another IAM version)."""
    unmatched = sorted(wanted - matched)
    if unmatched:
        log.warning(
            "%d of %d split ids matched no word in words.txt, e.g. %s",
            len(unmatched),
            len(wanted),
            unmatched[:_MAX_NAMED],
        )


def read_iam_words(
    words_txt: str | Path,
    images_root: str | Path | None = None,
    split_ids: str | Path | Iterable[str] | None = None,
    skip_err: bool = False,
    forms_txt: str | Path | None = None,
) -> list[Sample]:
    """Read IAM ``words.txt``; images are ``images_root/a01/a01-000u/a01-000u-00-00.png``.

    `images_root` defaults to ``<folder of words.txt>/words``.

    `split_ids` keeps words whose form, line or word id is listed; `forms_txt` supplies writer ids.
    """
    path = _existing_file(words_txt, "IAM words.txt")
    root = Path(images_root).expanduser().absolute() if images_root is not None else path.parent / "words"
    wanted = _read_id_list(split_ids) if split_ids is not None else None
    writers = read_iam_forms(forms_txt) if forms_txt is not None else None
    matched: set[str] = set()
    samples = []
    for number, line in _text_lines(path):
        fields = line.split()
        if len(fields) < IAM_MIN_FIELDS:
            raise _fail(
                path, f"expected at least {IAM_MIN_FIELDS} fields, got {len(fields)}: {line!r}", number
            )
        word_id, status = fields[0], fields[1]
        if status not in ("ok", "err"):
            raise _fail(path, f"segmentation result must be 'ok' or 'err', got {status!r}", number)
        folder, form_id, line_id = _iam_ids(path, number, word_id)
        if skip_err and status == "err":
            continue
        if wanted is not None:
            hits = wanted.intersection((form_id, line_id, word_id))
            if not hits:
                continue
            matched.update(hits)
        writer = None
        if writers is not None:
            if form_id not in writers:
                raise _fail(path, f"form {form_id!r} is not listed in {forms_txt}", number)
            writer = writers[form_id]
        samples.append(
            Sample(
                path=root / folder / form_id / f"{word_id}.png",
                text=" ".join(fields[IAM_MIN_FIELDS - 1 :]),
                writer_id=writer,
                origin=_where(path, number),
            )
        )
    if wanted is not None:
        _warn_unmatched_ids(wanted, matched)
    return samples


# --------------------------------------------------------------------------------------------- .gt.txt folder


def _gt_file(image: Path) -> Path | None:
    """The transcription beside `image`: ``<stem>.gt.txt``, else ``<name>.gt.txt``, else None."""
    for candidate in (image.with_name(f"{image.stem}.gt.txt"), image.with_name(f"{image.name}.gt.txt")):
        if candidate.is_file():
            return candidate
    return None


def _scan_gt_folder(folder: str | Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Sorted ``(image, gt file)`` pairs under `folder` (recursive), and the images that have no gt file."""
    root = Path(folder).expanduser().absolute()
    if not root.is_dir():
        raise _fail(root, "ground-truth folder not found" if not root.exists() else "not a folder")
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    pairs, unlabelled = [], []
    for image in images:
        gt = _gt_file(image)
        if gt is None:
            unlabelled.append(image)
        else:
            pairs.append((image, gt))
    return pairs, unlabelled


def read_gt_folder(folder: str | Path, writer_from_parent: bool = False) -> list[Sample]:
    """Read every image under `folder` (recursive) with a ``<stem>.gt.txt`` or ``<name>.gt.txt`` beside it.

    Images without one are skipped with a warning that names them; sorted by path.
    """
    pairs, unlabelled = _scan_gt_folder(folder)
    if unlabelled:
        names = ", ".join(str(p) for p in unlabelled[:_MAX_NAMED])
        log.warning("%d image(s) without a .gt.txt skipped under %s, e.g. %s", len(unlabelled), folder, names)
    return [
        Sample(
            path=image,
            text=_read_utf8(gt).rstrip("\r\n"),
            writer_id=image.parent.name if writer_from_parent else None,
            origin=_where(gt),
        )
        for image, gt in pairs
    ]
