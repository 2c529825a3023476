"""Download, verify and unpack dataset files: urllib with a progress bar into a cache folder (resumed over
HTTP when the server allows it, always atomic: `<name>.part` then rename), SHA-256 checks against pinned
values or a `sha256sum` manifest, and zip/tar extraction that refuses paths leaving the target folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from htr_lit.errors import UserError

CHUNK = 1 << 20  # bytes read per step: 1 MiB
TIMEOUT_S = 60
USER_AGENT = "htr-lit-fetch/1"


class FetchError(UserError, RuntimeError):
    """A download, archive or dataset file that cannot be used; the message names the URL or file."""


class ChecksumError(FetchError):
    """A file whose SHA-256 differs from the expected value; the message gives both."""


def default_cache_dir() -> Path:
    """`$HTR_CACHE_DIR`, else `$XDG_CACHE_HOME/htr-lit`, else `~/.cache/htr-lit`."""
    if os.environ.get("HTR_CACHE_DIR"):
        return Path(os.environ["HTR_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "htr-lit"


def as_url(location: str) -> str:
    """A URL as given; a local path (anything without a scheme) becomes a ``file://`` URL."""
    if urllib.parse.urlsplit(location).scheme in ("http", "https", "file", "ftp"):
        return location
    return Path(location).expanduser().absolute().as_uri()


def join_url(base: str, relative: str) -> str:
    """`base` (a folder URL, trailing slash optional) + a relative POSIX path, each segment %-quoted."""
    return base.rstrip("/") + "/" + urllib.parse.quote(relative)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, what: str) -> None:
    """Raise ChecksumError naming `what` (a URL or a manifest entry) when `path`'s SHA-256 is not `expected`."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ChecksumError(f"{what}: SHA-256 mismatch: expected {expected.lower()}, got {actual}")


# --------------------------------------------------------------------------------------------- download


@contextmanager
def _byte_bar(label: str, total: int | None, done: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich bytes progress bar on stderr; yields the function that advances it by n bytes."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("download", total=total, completed=done)
        yield lambda n: progress.advance(task, n)


def _open(url: str, start: int) -> tuple[Any, int]:
    """Open `url` asking for bytes from `start` on; returns the response and the offset it really starts at
    (0 when the server ignores the range, as file:// and many servers do)."""
    headers = {"User-Agent": USER_AGENT}
    if start and url.startswith(("http://", "https://")):
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # the range starts at or after the end: start again from scratch
            return _open(url, 0)
        raise FetchError(f"could not download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FetchError(f"could not download {url}: {reason}") from None
    return response, start if getattr(response, "status", None) == 206 else 0


def download(url: str, target: Path, sha256: str | None = None, progress: bool = True) -> Path:
    """Download `url` to `target` (kept as is when it is already there and matches `sha256`).

    Bytes go to `<target>.part`, which a later call resumes over HTTP(S) when the server honours ranges;
    only a complete file (that matches `sha256`, when given) is renamed to `target`. A mismatching
    download is deleted and raises ChecksumError.
    """
    target = Path(target)
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256.lower()):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    response, start = _open(url, have)
    with response:
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        with open(part, "ab" if start else "wb") as out, _byte_bar(target.name, total, start, progress) as advance:
            while block := response.read(CHUNK):
                out.write(block)
                advance(len(block))
    if total is not None and part.stat().st_size != total:
        raise FetchError(f"could not download {url}: got {part.stat().st_size} of {total} bytes; run again to resume")
    if sha256 is not None:
        try:
            check_sha256(part, sha256, url)
        except ChecksumError:
            part.unlink()
            raise
    os.replace(part, target)
    return target


# --------------------------------------------------------------------------------------------- manifest


@contextmanager
def count_bar(label: str, total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar counting items on stderr; yields the function that advances it by one."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` file (``<64 hex>  <relative path>`` per line) into path -> hex digest.

    Paths must be relative and stay inside the folder (no ``..``); a bad line raises, naming its number.
    """
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().removeprefix("*")  # "*" marks binary mode in sha256sum's output
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest) or not name:
            raise FetchError(f"{path}:{number}: expected '<sha256 hex>  <path>', got {line!r}")
        if not is_safe_member(name):
            raise FetchError(f"{path}:{number}: path {name!r} leaves the dataset folder")
        entries[name] = digest.lower()
    return entries


def verify_manifest(root: Path, entries: dict[str, str], where: str, progress: bool = True) -> None:
    """Check every file of a manifest (parsed as `entries`) under `root`; one error, starting with `where`
    (what the manifest is), lists the first few missing or mismatching files and how many there are."""
    missing, wrong = [], []
    with count_bar("verify", len(entries), progress) as advance:
        for name, digest in entries.items():
            path = root / name
            if not path.is_file():
                missing.append(name)
            elif sha256_file(path) != digest:
                wrong.append(name)
            advance()
    if missing or wrong:
        lines = [f"{where}: {len(missing)} file(s) missing, {len(wrong)} with the wrong SHA-256"]
        lines += [f"  missing: {n}" for n in missing[:5]] + [f"  SHA-256 mismatch: {n}" for n in wrong[:5]]
        raise ChecksumError("\n".join(lines))




# --------------------------------------------------------------------------------------------- extract


def is_safe_member(name: str) -> bool:
    """True for a relative archive path that stays inside the target (no absolute path, drive or ``..``)."""
    path = PurePosixPath(name.replace("\\", "/"))
    return bool(name) and not path.is_absolute() and ".." not in path.parts and ":" not in path.parts[0]


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not is_safe_member(info.filename):
                raise FetchError(f"{archive}: refusing archive member {info.filename!r}: it leaves the target folder")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise FetchError(f"{archive}: refusing archive member {info.filename!r}: it is a symbolic link")
        zf.extractall(dest)


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tf:
        for member in tf.getmembers():
            if not is_safe_member(member.name):
                raise FetchError(f"{archive}: refusing archive member {member.name!r}: it leaves the target folder")
            if not (member.isfile() or member.isdir()):
                raise FetchError(f"{archive}: refusing archive member {member.name!r}: not a plain file or folder")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the stdlib's own safety net too
            tf.extractall(dest, filter="data")
        else:  # pragma: no cover - older Pythons; the members were checked above
            tf.extractall(dest)


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into `dest` (created; replaced if it exists).

    Every member is checked first: absolute paths, ``..``, links and device files make it raise,
    before anything is written.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest)
        else:
            raise FetchError(f"{archive}: neither a zip nor a tar archive (delete it to download again)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise FetchError(f"{archive}: damaged archive ({err}); delete it to download again") from None
    return dest
