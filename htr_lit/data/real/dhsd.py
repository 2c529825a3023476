"""`htr-data fetch dhsd`: download the public DHSD release, check it file by file against its own
`checksums.sha256` (whose SHA-256 is pinned here), and write this project's layout: grayscale
`images/writer<ID>/<ID>_<N>.png` and `labels.csv` (file_name,text,writer_id), writer ids kept."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import urllib.parse
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from htr_lit.data.real import fetch
from htr_lit.data.real.fetch import FetchError

log = logging.getLogger(__name__)

REPO = "nauman-riaz/DHSD"
VERSION = "1.0.0"
# The newest commit of the public repository (2026-02-23); the data files are those of the v1.0.0 commit.
COMMIT = "ab871d395966c3f1177444a2db847e047b9559b8"
DEFAULT_URL = f"https://github.com/{REPO}/archive/{COMMIT}.zip"
RAW_MIRROR = f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/"
ZENODO_URL = "https://zenodo.org/record/18743313/files/DHSD.zip"  # the download the release's README gives
MANIFEST = "checksums.sha256"
# SHA-256 of the release's checksums.sha256, computed from the file in commit COMMIT (its 5,940 lines cover
# data.csv and every image). The archives themselves are not pinned: GitHub builds its zips on the fly and
# the Zenodo zip was not available to hash. Every file that is used is checked through the manifest.
MANIFEST_SHA256 = "577b3c614fa947ee16bfbc7c3073969c91cb6bcd2b0e675af9a1fff847321bfd"
LABELS = "data.csv"
LICENSE = "LICENSE"
IMAGE_DIR = "german_hw_data"  # the release's image folder; ours is OUT_IMAGE_DIR
OUT_IMAGE_DIR = "images"
OUT_LABELS = "labels.csv"
SOURCE_FILE = "source.json"  # written last: its presence means the folder is complete
COLUMNS = ("file_name", "text", "writer_id")


@dataclass(frozen=True)
class FetchRecord:
    """What a finished destination folder was made from (`source.json`); the same request is a no-op."""

    dataset: str
    version: str
    source: str
    manifest_sha256: str
    exclude_writers: list[str]
    images: int = 0
    writers: int = 0

    def same_request(self, other: FetchRecord) -> bool:
        return (self.manifest_sha256, self.exclude_writers) == (other.manifest_sha256, other.exclude_writers)


# --------------------------------------------------------------------------------------------- the release


def _release_root(folder: Path) -> Path:
    """The folder holding checksums.sha256: `folder` itself or its single top-level folder (GitHub zips)."""
    if (folder / MANIFEST).is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / MANIFEST).is_file():
        return subdirs[0]
    raise FetchError(f"{folder}: no {MANIFEST} at the top of the archive (is it the DHSD release?)")


def _checked_manifest(root: Path, manifest_sha256: str, where: str) -> dict[str, str]:
    """The release's manifest, after its own SHA-256 is checked against the pinned value."""
    try:
        fetch.check_sha256(root / MANIFEST, manifest_sha256, f"{MANIFEST} from {where}")
    except fetch.ChecksumError as err:
        raise fetch.ChecksumError(
            f"{err}\nThis is not the DHSD v{VERSION} release this fetcher knows; for another version pass "
            "--manifest-sha256 with the SHA-256 of its checksums.sha256 (after checking it yourself)."
        ) from None
    entries = fetch.read_manifest(root / MANIFEST)
    if LABELS not in entries:
        raise FetchError(f"{root / MANIFEST}: {LABELS} is not listed, so the labels cannot be verified")
    return entries


def unpacked_dir(archive: Path) -> Path:
    """Where `archive` is unpacked (beside it, removed once the dataset is written)."""
    return archive.with_name(archive.name + ".d")


def from_archive(url: str, archive: Path, archive_sha256: str | None, manifest_sha256: str,
                 progress: bool) -> tuple[Path, dict[str, str]]:
    """Download the release archive at `url` to `archive`, unpack it, verify every listed file."""
    fetch.download(url, archive, sha256=archive_sha256, progress=progress)
    pinned = "matches --sha256" if archive_sha256 else "not pinned; the files inside are checked instead"
    log.info("%s: SHA-256 %s (%s)", archive, fetch.sha256_file(archive), pinned)
    root = _release_root(fetch.extract(archive, unpacked_dir(archive)))
    entries = _checked_manifest(root, manifest_sha256, url)
    try:
        fetch.verify_manifest(root, entries, f"{MANIFEST} in {archive.name}", progress=progress)
    except fetch.ChecksumError as err:
        raise fetch.ChecksumError(f"{err}\n(the archive {archive} is damaged or altered: delete it to download "
                                  "again)") from None
    log.info("%s: %d files match %s (SHA-256 %s)", archive.name, len(entries), MANIFEST, manifest_sha256)
    return root, entries


def from_mirror(base: str, cache: Path, manifest_sha256: str, progress: bool) -> tuple[Path, dict[str, str]]:
    """Fetch the unpacked release file by file from `base` (a folder URL laid out like the repository),
    each checked against the manifest; files already in `cache` and correct are not fetched again."""
    root = cache / f"dhsd-{manifest_sha256[:12]}-files"
    manifest = fetch.download(fetch.join_url(base, MANIFEST), root / MANIFEST, progress=False)
    try:
        entries = _checked_manifest(root, manifest_sha256, base)
    except FetchError:
        manifest.unlink()  # not kept in the cache, so the next run fetches it again
        raise
    with fetch.count_bar("download", len(entries), progress) as advance:
        for name, digest in entries.items():
            fetch.download(fetch.join_url(base, name), root / name, sha256=digest, progress=False)
            advance()
    try:
        fetch.download(fetch.join_url(base, LICENSE), root / LICENSE, progress=False)
    except FetchError:
        log.warning("no %s at %s; the README written still names the licence (CC BY 4.0)", LICENSE, base)
    log.info("%s: %d files match %s (SHA-256 %s)", base, len(entries), MANIFEST, manifest_sha256)
    return root, entries


# --------------------------------------------------------------------------------------------- conversion


def read_release_labels(root: Path, verified: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(file_name, text, writer_id)`` rows of the release's data.csv; every image must be in the manifest."""
    path = root / LABELS
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), strict=True)
    rows = []
    try:
        header = [h.strip() for h in next(reader, [])]
        if header != list(COLUMNS):
            raise FetchError(f"{path}:1: expected the columns {list(COLUMNS)}, got {header}")
        records = [(reader.line_num, row) for row in reader if row]
    except csv.Error as err:
        raise FetchError(f"{path}:{reader.line_num}: CSV syntax error: {err}") from None
    for line, row in records:
        if len(row) != len(COLUMNS):
            raise FetchError(f"{path}:{line}: expected {len(COLUMNS)} fields, got {len(row)}: {row!r}")
        file_name, text, writer = row[0].strip(), row[1], row[2].strip()
        if file_name not in verified:
            raise FetchError(f"{path}:{line}: {file_name!r} is not listed in {MANIFEST}, so it cannot be verified")
        if PurePosixPath(file_name).parts[0] != IMAGE_DIR or not writer:
            raise FetchError(f"{path}:{line}: expected '{IMAGE_DIR}/...' and a writer id, got {row!r}")
        rows.append((file_name, text, writer))
    return rows


def to_gray(src: Path, dst: Path) -> None:
    """Save `src` as 8-bit grayscale PNG; transparent pixels become white paper (DHSD's alpha is opaque)."""
    with Image.open(src) as im:
        if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
            rgba = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        gray = im.convert("L")
    dst.parent.mkdir(parents=True, exist_ok=True)
    gray.save(dst)


def convert(root: Path, verified: dict[str, str], out: Path, exclude_writers: Iterable[str],
            progress: bool) -> tuple[int, int]:
    """Write `out/images/...` and `out/labels.csv` from the verified release at `root`; (images, writers)."""
    excluded = set(exclude_writers)
    rows = [r for r in read_release_labels(root, verified) if r[2] not in excluded]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / OUT_LABELS, "w", encoding="utf-8", newline="") as f, \
            fetch.count_bar("convert", len(rows), progress) as advance:
        writer = csv.writer(f)  # RFC 4180: CRLF rows; fields with , " or newlines quoted, quotes doubled
        writer.writerow(COLUMNS)
        for file_name, text, writer_id in rows:
            relative = PurePosixPath(OUT_IMAGE_DIR, *PurePosixPath(file_name).parts[1:]).as_posix()
            to_gray(root / file_name, out / relative)
            writer.writerow((relative, text, writer_id))
            advance()
    return len(rows), len({r[2] for r in rows})


def _readme(record: FetchRecord) -> str:
    excluded = ", ".join(record.exclude_writers) or "none"
    return (
        f"# DHSD v{record.version}: German Handwriting Street-name Dataset (fetched by htr-data)\n\n"
        "By Nauman Riaz, Saifullah Saifullah, Stefan Agne, Andreas Dengel, Sheraz Ahmed (ICDAR 2024), "
        f"licensed CC BY 4.0 (see LICENSE). Source: github.com/{REPO} (downloaded from {record.source}).\n"
        "Place names come from OpenStreetMap (ODbL).\n\n"
        f"Every file was checked against the release's {MANIFEST} (SHA-256 {record.manifest_sha256}).\n"
        "Changes made here: images converted from RGBA to 8-bit grayscale PNG and re-laid-out as "
        f"images/writer<ID>/<ID>_<N>.png; writers left out: {excluded}.\n\n"
        f"Format: {OUT_LABELS} with columns file_name,text,writer_id (UTF-8, RFC 4180 quoting; file_name relative "
        f"to this folder). {record.images:,} images, {record.writers} writers.\n"
        "For a writer-independent split, split by writer_id, never by image.\n"
    )


# --------------------------------------------------------------------------------------------- entry point


def _finished(dest: Path, wanted: FetchRecord) -> bool:
    """True when `dest` already holds this request's result; raise when it holds something else."""
    if not dest.exists():
        return False
    record_file = dest / SOURCE_FILE
    if record_file.is_file():
        record = FetchRecord(**json.loads(record_file.read_text(encoding="utf-8")))
        if record.same_request(wanted):
            return True
        log.info("%s holds DHSD fetched with other settings (%s): replacing it", dest, record_file)
        return False
    if dest.is_dir() and not any(dest.iterdir()):
        return False
    raise FetchError(f"{dest} exists and is not a DHSD folder written by htr-data (no {SOURCE_FILE}); "
                     "choose an empty or new --dest")


def fetch_dhsd(dest: str | Path, url: str | None = None, mirror: str | None = None,
               cache_dir: str | Path | None = None, archive_sha256: str | None = None,
               manifest_sha256: str = MANIFEST_SHA256, exclude_writers: Iterable[str] = (),
               progress: bool = True) -> Path:
    """Download DHSD (the archive at `url`, default the pinned GitHub commit, or file by file from `mirror`),
    verify it and write `dest/labels.csv` + `dest/images/`; returns `dest`. Re-running is a no-op."""
    if mirror is not None and (url is not None or archive_sha256 is not None):
        raise FetchError("--mirror fetches the unpacked release file by file: --url and --sha256 (an archive's) "
                         "do not apply")
    dest = Path(dest).expanduser().absolute()
    cache = Path(cache_dir).expanduser() if cache_dir is not None else fetch.default_cache_dir() / "dhsd"
    source = fetch.as_url(mirror) if mirror is not None else fetch.as_url(url or DEFAULT_URL)
    excluded = sorted({w.strip() for w in exclude_writers if w.strip()}, key=lambda w: (len(w), w))
    record = FetchRecord("DHSD", VERSION, source, manifest_sha256.lower(), excluded)
    if _finished(dest, record):
        log.info("%s already holds this DHSD (%s): nothing to do", dest, SOURCE_FILE)
        return dest
    archive = cache / (PurePosixPath(urllib.parse.urlsplit(source).path).name or "DHSD.zip")
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        if mirror is not None:
            root, entries = from_mirror(source, cache, record.manifest_sha256, progress)
        else:
            root, entries = from_archive(source, archive, archive_sha256, record.manifest_sha256, progress)
        if tmp.exists():
            shutil.rmtree(tmp)
        images, writers = convert(root, entries, tmp, excluded, progress)
        record = FetchRecord(**{**asdict(record), "images": images, "writers": writers})
        if (root / LICENSE).is_file():
            shutil.copyfile(root / LICENSE, tmp / LICENSE)
        (tmp / "README.md").write_text(_readme(record), encoding="utf-8")
        (tmp / SOURCE_FILE).write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:  # the unpacked archive and a half-written folder go; the download stays in the cache
        shutil.rmtree(tmp, ignore_errors=True)
        if mirror is None:
            shutil.rmtree(unpacked_dir(archive), ignore_errors=True)
    log.info("wrote %s: %d images, %d writers -> %s", dest / OUT_LABELS, images, writers, dest)
    return dest


def dhsd_labels() -> Path:
    """DHSD's labels CSV, where the recipes read it (`$HTR_DHSD_DIR`, else ../shared/data/dhsd)."""
    from htr_lit.config import compose_config

    return Path(compose_config("train", ["experiment=crnn_dhsd"]).data.source.csv_path)
