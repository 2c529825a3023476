"""`htr-data fetch dhsd` on a fake DHSD release in the public layout (german_hw_data/writer<W>/<W>_<N>.png
RGBA images, data.csv, checksums.sha256), served as file:// (and once over a local HTTP server): checksums
are enforced, the output reads back through the project's CSV source with writer ids, images are grayscale."""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr_lit.data import formats
from htr_lit.data.real import dhsd, fetch
from htr_lit.data.real.fetch import ChecksumError, FetchError
from htr_lit.data.sources import LabelsCSVSource

# (writer, text): a comma and a quote check the CSV quoting, umlauts and ß the UTF-8.
ROWS = [("1", "Königshain-Wiederau"), ("1", "Groß Köris"), ("2", 'Halle, "Saale"'), ("2", "Söllingen"),
        ("3", "Weißenfels"), ("3", "Gülitz-Reetz")]


def rgba_image(seed: int) -> Image.Image:
    """A small opaque RGBA image with colour noise, as the release's images are RGBA."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(16, 48, 3), dtype=np.uint8)
    alpha = np.full((16, 48, 1), 255, dtype=np.uint8)
    return Image.fromarray(np.concatenate([pixels, alpha], axis=2), mode="RGBA")


def write_manifest(root: Path) -> str:
    """checksums.sha256 over data.csv and the images (as the release has it); returns its own SHA-256."""
    names = ["data.csv", *sorted(p.relative_to(root).as_posix() for p in (root / "german_hw_data").rglob("*.png"))]
    lines = [f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}" for n in names]
    (root / dhsd.MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return fetch.sha256_file(root / dhsd.MANIFEST)


def fake_release(root: Path) -> str:
    """The public release's layout under `root`; returns the SHA-256 of its manifest."""
    counts: dict[str, int] = {}
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # CRLF rows, as the release's data.csv
    writer.writerow(["file_name", "text", "writer_id"])
    for i, (w, text) in enumerate(ROWS):
        n = counts[w] = counts.get(w, -1) + 1
        name = f"german_hw_data/writer{w}/{w}_{n}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        rgba_image(i).save(root / name)
        writer.writerow([name, text, w])
    (root / "data.csv").write_text(buffer.getvalue(), encoding="utf-8", newline="")
    (root / "LICENSE").write_text("Creative Commons Attribution 4.0 International\n", encoding="utf-8")
    return write_manifest(root)


def zip_folder(folder: Path, archive: Path, prefix: str = "DHSD-0123abc/") -> Path:
    """A zip of `folder` under one top folder, as GitHub's archive zips are."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, str]:
    """(the unpacked fake release, its manifest SHA-256)."""
    root = tmp_path / "release"
    return root, fake_release(root)


def fetch_archive(tmp_path: Path, release_dir: Path, sha: str, **kwargs) -> Path:
    archive = zip_folder(release_dir, tmp_path / "DHSD.zip")
    return dhsd.fetch_dhsd(tmp_path / "dhsd", url=archive.as_uri(), cache_dir=tmp_path / "cache",
                           manifest_sha256=sha, progress=False, **kwargs)


def test_fetch_writes_grayscale_images_and_a_labels_csv_the_csv_source_reads(tmp_path, release):
    dest = fetch_archive(tmp_path, *release)
    samples = formats.read_labels_csv(dest / "labels.csv")
    assert [(s.writer_id, s.text) for s in samples] == ROWS
    assert [s.path.relative_to(dest).as_posix() for s in samples][:2] == ["images/writer1/1_0.png",
                                                                         "images/writer1/1_1.png"]
    for i, s in enumerate(samples):
        with Image.open(s.path) as im:
            assert im.mode == "L"
            assert np.array_equal(np.asarray(im), np.asarray(rgba_image(i).convert("L")))
    assert '"Halle, ""Saale"""' in (dest / "labels.csv").read_text(encoding="utf-8")  # RFC 4180 quoting
    splits = LabelsCSVSource(csv_path=str(dest / "labels.csv"), val_fraction=0.34, test_fraction=0.34).load()
    writers = [{s.writer_id for s in splits[k]} for k in ("train", "val", "test")]
    assert sorted(w for ws in writers for w in ws) == ["1", "2", "3"]  # one writer per split, none shared
    assert (dest / "LICENSE").is_file() and "CC BY 4.0" in (dest / "README.md").read_text(encoding="utf-8")
    assert not (tmp_path / "cache" / "DHSD.zip.d").exists()  # the unpacked copy is removed, the zip kept


def test_a_second_fetch_is_a_no_op_and_other_settings_replace_the_folder(tmp_path, release):
    dest = fetch_archive(tmp_path, *release)
    (tmp_path / "DHSD.zip").unlink()  # the source is gone: only a no-op can succeed
    (tmp_path / "cache" / "DHSD.zip").unlink()
    assert dhsd.fetch_dhsd(dest, url=(tmp_path / "DHSD.zip").as_uri(), cache_dir=tmp_path / "cache",
                           manifest_sha256=release[1], progress=False) == dest
    fetch_archive(tmp_path, *release, exclude_writers=["2"])
    assert {s.writer_id for s in formats.read_labels_csv(dest / "labels.csv")} == {"1", "3"}
    assert not (dest / "images" / "writer2").exists()


def test_a_corrupted_image_fails_naming_it_and_writes_nothing(tmp_path, release):
    root, sha = release
    (root / "german_hw_data/writer2/2_1.png").write_bytes(b"not the image that was hashed")
    damaged = r"1 with the wrong SHA-256.*\n.*mismatch: german_hw_data/writer2/2_1.png\n.*DHSD.zip is damaged.*delete"
    with pytest.raises(ChecksumError, match=damaged):
        fetch_archive(tmp_path, root, sha)
    assert not (tmp_path / "dhsd").exists() and not (tmp_path / ".dhsd.tmp").exists()
    assert not (tmp_path / "cache" / "DHSD.zip.d").exists()  # the unpacked copy is removed on failure too


def test_a_release_other_than_the_pinned_one_is_refused(tmp_path, release):
    root, _ = release
    with pytest.raises(ChecksumError, match=rf"expected {dhsd.MANIFEST_SHA256}.*\n.*--manifest-sha256"):
        fetch_archive(tmp_path, root, dhsd.MANIFEST_SHA256)


def test_a_wrong_archive_sha256_deletes_the_download(tmp_path, release):
    with pytest.raises(ChecksumError, match=r"DHSD\.zip: SHA-256 mismatch: expected 0{64}, got [0-9a-f]{64}"):
        fetch_archive(tmp_path, *release, archive_sha256="0" * 64)
    assert not any((tmp_path / "cache").iterdir())


def test_the_mirror_gives_the_same_dataset_file_by_file(tmp_path, release):
    root, sha = release
    by_archive = fetch_archive(tmp_path, root, sha)
    by_mirror = dhsd.fetch_dhsd(tmp_path / "mirrored", mirror=str(root), cache_dir=tmp_path / "cache2",
                                manifest_sha256=sha, progress=False)
    assert (by_mirror / "labels.csv").read_bytes() == (by_archive / "labels.csv").read_bytes()
    (root / "german_hw_data/writer3/3_0.png").write_bytes(b"changed")
    with pytest.raises(ChecksumError, match="writer3/3_0.png: SHA-256 mismatch"):
        dhsd.fetch_dhsd(tmp_path / "again", mirror=root.as_uri(), cache_dir=tmp_path / "cache3",
                        manifest_sha256=sha, progress=False)


def test_a_mirror_of_another_release_is_refused_with_the_hint_and_not_cached(tmp_path, release):
    root, sha = release
    kwargs = {"mirror": str(root), "cache_dir": tmp_path / "cache", "progress": False}
    with pytest.raises(ChecksumError, match=r"checksums\.sha256 from file://.*mismatch.*\n.*--manifest-sha256"):
        dhsd.fetch_dhsd(tmp_path / "d", **kwargs)  # the pinned v1.0.0 manifest: not this fake's
    assert dhsd.fetch_dhsd(tmp_path / "d", manifest_sha256=sha, **kwargs) == (tmp_path / "d").absolute()
    with pytest.raises(FetchError, match="--url and --sha256 .* do not apply"):
        dhsd.fetch_dhsd(tmp_path / "e", archive_sha256="0" * 64, manifest_sha256=sha, **kwargs)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('german_hw_data/writer1/1_0.png,"Köln"x,1', r"data\.csv:8: CSV syntax error"),
        ("german_hw_data/writer9/9_0.png,Extra,9", r"data\.csv:8: 'german_hw_data/writer9/9_0.png' is not listed"),
    ],
    ids=["csv-syntax-error", "image-not-in-manifest"],
)
def test_a_bad_label_row_is_named(tmp_path, release, row, message):
    root, _ = release
    with open(root / "data.csv", "a", encoding="utf-8", newline="") as f:
        f.write(row + "\r\n")
    with pytest.raises(FetchError, match=message):
        fetch_archive(tmp_path, root, write_manifest(root))


def test_a_folder_that_is_not_ours_is_not_overwritten(tmp_path, release):
    (tmp_path / "dhsd").mkdir()
    (tmp_path / "dhsd" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FetchError, match="not a DHSD folder written by htr-data"):
        fetch_archive(tmp_path, *release)
    assert (tmp_path / "dhsd" / "notes.txt").read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------------------------- fetch.py


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "a/../../evil.txt"])
def test_extract_refuses_members_that_leave_the_folder(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(zipfile.ZipInfo(member), "evil")  # ZipInfo keeps the name as given
    with pytest.raises(FetchError, match="refusing archive member"):
        fetch.extract(archive, tmp_path / "out" / "x")
    assert not (tmp_path / "out" / "x" / "ok.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_extract_refuses_links_in_a_tar_and_unpacks_a_clean_one(tmp_path):
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        link = tarfile.TarInfo("data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(FetchError, match="not a plain file or folder"):
        fetch.extract(archive, tmp_path / "out")
    good = tmp_path / "good.tar.gz"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("A", encoding="utf-8")
    with tarfile.open(good, "w:gz") as tf:
        tf.add(tmp_path / "src" / "a.txt", "top/a.txt")
    assert (fetch.extract(good, tmp_path / "out") / "top" / "a.txt").read_text(encoding="utf-8") == "A"


def test_read_manifest_rejects_bad_lines_naming_them(tmp_path):
    manifest = tmp_path / "checksums.sha256"
    manifest.write_text(f"{'a' * 64}  ok.png\n{'b' * 64}  ../../etc/passwd\n", encoding="utf-8")
    with pytest.raises(FetchError, match=r"checksums\.sha256:2: path '\.\./\.\./etc/passwd' leaves"):
        fetch.read_manifest(manifest)
    manifest.write_text("1234  short.png\n", encoding="utf-8")
    with pytest.raises(FetchError, match=r":1: expected '<sha256 hex>  <path>'"):
        fetch.read_manifest(manifest)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves `payload` at any path, honouring `Range: bytes=N-` (206) and recording the ranges asked for."""

    payload = b""
    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        asked = self.headers.get("Range")
        self.ranges.append(asked or "")
        start = int(asked.removeprefix("bytes=").rstrip("-")) if asked else 0
        body = self.payload[start:]
        self.send_response(206 if asked else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_download_resumes_a_partial_file_over_http_and_renames_only_when_complete(tmp_path):
    payload = bytes(range(256)) * 40
    RangeHandler.payload, RangeHandler.ranges = payload, []
    server = http.server.HTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = tmp_path / "cache" / "data.bin"
        target.parent.mkdir()
        (tmp_path / "cache" / "data.bin.part").write_bytes(payload[:1000])  # an interrupted earlier download
        url = f"http://127.0.0.1:{server.server_port}/data.bin"
        fetch.download(url, target, sha256=hashlib.sha256(payload).hexdigest(), progress=False)
    finally:
        server.shutdown()
    assert RangeHandler.ranges == ["bytes=1000-"]
    assert target.read_bytes() == payload and not (tmp_path / "cache" / "data.bin.part").exists()


def test_download_names_an_unreachable_url(tmp_path):
    with pytest.raises(FetchError, match=r"could not download file:///.*/nowhere\.zip"):
        fetch.download((tmp_path / "nowhere.zip").as_uri(), tmp_path / "x.zip", progress=False)


@pytest.mark.slow
def test_the_cli_fetches_and_reports_a_checksum_error_without_a_traceback(tmp_path, release):
    root, sha = release
    archive = zip_folder(root, tmp_path / "DHSD.zip")
    cmd = [sys.executable, "-m", "htr_lit.data_cli", "fetch", "dhsd", "--url", archive.as_uri(),
           "--cache", str(tmp_path / "cache"), "--manifest-sha256", sha, "--quiet"]
    done = subprocess.run([*cmd, "--dest", str(tmp_path / "ok")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"DHSD ready: {tmp_path / 'ok' / 'labels.csv'}" in done.stdout
    assert "6 images, 3 writers" in done.stderr
    bad = [*cmd[:-2], dhsd.MANIFEST_SHA256, "--quiet", "--dest", str(tmp_path / "bad")]
    failed = subprocess.run(bad, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert f"error: {dhsd.MANIFEST} from {archive.as_uri()}: SHA-256 mismatch" in failed.stderr
