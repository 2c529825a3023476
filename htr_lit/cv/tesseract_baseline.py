"""Tesseract on the writer folds: the off-the-shelf engine a user would try first, scored like a recipe.

    python -m htr_lit.cv.tesseract_baseline --choose-psm 7,8    # pick the page mode on validation writers
    python -m htr_lit.cv.tesseract_baseline --psm 7             # read every fold's test writers

Tesseract 5 with Debian's German model (`apt install tesseract-ocr tesseract-ocr-deu`, `-l deu`) reads every test
writer's images of the same writer folds as `python -m htr_lit.cv` (htr_lit/cv/folds.py: same `--folds`,
`--val-writers`, `--seed`), one `tesseract` process at a time (`OMP_THREAD_LIMIT=1`) over a list file of images, so
the model loads once per chunk. Each reading is appended to `<out>/readings_psm<P>_<lang>.jsonl` (keyed by the
image path relative to the data root): a re-run reads only what is missing. Readings and labels are compared after
collapsing whitespace (no case folding) with the project's metrics (htr_lit/metrics.py). `<out>/cv.json` and
`cv.md` have the format of `python -m htr_lit.cv`, so `python -m htr_lit.cv.compare docs/cv/crnn_dhsd
docs/cv/tesseract` pairs it with a recipe. Nothing is trained: the engine is used as shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.config import project_root
from htr_lit.cv.folds import Fold, read_writers, writer_folds

INSTALL = "apt install tesseract-ocr tesseract-ocr-deu"
CHUNK = 40  # images per tesseract process: the model loads once per chunk, a crash costs at most one chunk


def default_csv() -> Path:
    """DHSD's labels CSV where the configs look for it (conf/paths/default.yaml: HTR_DHSD_DIR, else beside the
    checkout)."""
    root = os.environ.get("HTR_DHSD_DIR") or project_root().parent / "shared" / "data" / "dhsd"
    return Path(root) / "labels.csv"


def normalise(text: str) -> str:
    """A reading or a label as scored: surrounding whitespace stripped and inner runs collapsed to one space."""
    return " ".join(text.split())


def tesseract_binary(lang: str) -> tuple[str, str]:
    """The `tesseract` on PATH and its version line; a one-line SystemExit naming the packages when it or the
    language model is missing."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise SystemExit(f"error: the tesseract command is not installed (on Debian/Ubuntu: {INSTALL})")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    first = (version.stdout or version.stderr).strip().splitlines()
    langs = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, check=False)
    if lang not in (langs.stdout + langs.stderr).split():
        raise SystemExit(f"error: tesseract has no '{lang}' language model (on Debian/Ubuntu: {INSTALL})")
    return binary, first[0] if first else "tesseract (unknown version)"


def read_images(binary: str, paths: Sequence[Path], lang: str, psm: int) -> list[str]:
    """Tesseract's raw reading of each image: one process over a list file (pages come back separated by form
    feeds); when that fails or the pages do not match the images (an unreadable file stops the batch), each image
    is read alone, and one tesseract cannot read counts as an empty reading."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def run(target: str) -> subprocess.CompletedProcess:
        cmd = [binary, target, "stdout", "-l", lang, "--psm", str(psm)]
        return subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace", env=env,
                              check=False)

    if len(paths) > 1:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
            f.write("".join(f"{p}\n" for p in paths))
        try:
            proc = run(f.name)
        finally:
            os.unlink(f.name)
        pages = proc.stdout.split("\f")
        if proc.returncode == 0 and len(pages) == len(paths):
            return pages
    out = []
    for path in paths:
        proc = run(str(path))
        out.append(proc.stdout if proc.returncode == 0 else "")
    return out


class Readings:
    """The resumable cache of one engine setting: a JSONL file whose first line names the engine, then one
    `{"image": <path under the data root>, "reading": <raw text>, "s": <seconds spent on it>}` per image."""

    def __init__(self, path: Path, engine: dict[str, Any]) -> None:
        self.path, self.engine = path, engine
        self.items: dict[str, dict[str, Any]] = {}
        if path.is_file():
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if lines and lines[0].get("engine") != engine:
                raise SystemExit(
                    f"error: {path} holds readings of {lines[0].get('engine')}, not {engine}: move it away to read "
                    "again with this engine"
                )
            self.items = {line["image"]: line for line in lines[1:]}
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"engine": engine}, ensure_ascii=False) + "\n", encoding="utf-8")

    def add(self, images: Sequence[str], readings: Sequence[str], seconds: float) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            for image, reading in zip(images, readings):
                item = {"image": image, "reading": reading, "s": round(seconds / len(images), 4)}
                self.items[image] = item
                f.write(json.dumps(item, ensure_ascii=False) + "\n")


def read_missing(binary: str, root: Path, images: Sequence[str], cache: Readings, lang: str, psm: int,
                 what: str) -> None:
    """Read the images `cache` does not hold yet, a chunk per process, printing the rate and the time left."""
    todo = [image for image in dict.fromkeys(images) if image not in cache.items]
    if not todo:
        return
    start, done = time.perf_counter(), 0
    for i in range(0, len(todo), CHUNK):
        chunk = todo[i : i + CHUNK]
        t0 = time.perf_counter()
        readings = read_images(binary, [root / image for image in chunk], lang, psm)
        cache.add(chunk, readings, time.perf_counter() - t0)
        done += len(chunk)
        rate = done / (time.perf_counter() - start)
        print(f"{what}: read {done}/{len(todo)} images, {rate:.1f} img/s, about {(len(todo) - done) / rate:.0f} s "
              "left", file=sys.stderr, flush=True)


def figures(preds: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
    """CER, WER and word accuracy with the project's metrics (the ones validation and test log), normalised."""
    from htr_lit.metrics import text_metrics

    metrics = text_metrics("")
    metrics.update([normalise(p) for p in preds], [normalise(t) for t in texts])
    return {**{k: float(v) for k, v in metrics.compute().items()}, "images": len(texts)}


def rel(path: str, root: Path) -> str:
    """An image path of `read_writers` as the records name it: relative to the data root (the CSV's folder)."""
    return Path(path).relative_to(root).as_posix()


def score_fold(fold: Fold, rows: dict[str, list[tuple[str, str]]], root: Path, cache: Readings) -> dict[str, Any]:
    """A fold record in the format of `python -m htr_lit.cv`: figures per test writer and over all its images."""
    writers: dict[str, dict[str, Any]] = {}
    preds, texts = [], []
    for writer in fold.test_writers:
        p = [cache.items[rel(path, root)]["reading"] for path, _ in rows[writer]]
        t = [text for _, text in rows[writer]]
        writers[writer] = figures(p, t)
        preds, texts = preds + p, texts + t
    total = figures(preds, texts)
    val = [(cache.items[rel(path, root)]["reading"], text) for w in fold.val_writers for path, text in rows[w]]
    return {
        "fold": fold.index, "test_writers": list(fold.test_writers), "val_writers": list(fold.val_writers),
        "images": len(texts), "writers": writers,
        # the validation writers' CER (read as the test writers of another fold): what a choice may look at
        "val/cer": figures([p for p, _ in val], [t for _, t in val])["cer"] if val else None,
        **{f"test/{k}": total[k] for k in ("cer", "wer", "word_acc")},
    }


def machine() -> dict[str, Any]:
    """The CPU that read the images (its model name from /proc/cpuinfo, else platform.processor())."""
    cpu = platform.processor()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "processes": 1, "omp_thread_limit": 1}


def summarise_table(folds: list[dict[str, Any]], title: str) -> str:
    """The table `python -m htr_lit.cv` writes (its one summary function, wherever it lives)."""
    try:
        from htr_lit.cv.summary import summarise  # type: ignore[import-not-found]
    except ImportError:
        from htr_lit.cv.main import summarise
    return summarise(folds, title)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htr_lit.cv.tesseract_baseline",
        description="Tesseract (-l deu) on the test writers of the writer folds of python -m htr_lit.cv; writes "
        "cv.json / cv.md in its format. Resumable: re-running reads only the images not read yet.",
        epilog=f"Needs the tesseract command and its German model: {INSTALL}",
    )
    p.add_argument("--csv", type=Path, default=None, help="labels CSV with writer_id (default: DHSD, $HTR_DHSD_DIR)")
    p.add_argument("--folds", type=int, default=5, help="number of writer folds (as python -m htr_lit.cv)")
    p.add_argument("--val-writers", type=int, default=3, help="validation writers per fold (as python -m htr_lit.cv)")
    p.add_argument("--seed", type=int, default=0, help="seed of the writer shuffle (as python -m htr_lit.cv)")
    p.add_argument("--psm", type=int, default=7, help="tesseract page segmentation mode (7 one line, 8 one word)")
    p.add_argument("-l", "--lang", default="deu", help="tesseract language model (default deu)")
    p.add_argument("--out", type=Path, default=Path("docs/cv/tesseract"),
                   help="output folder (default docs/cv/tesseract)")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="only the first N images of each writer (a trial)")
    p.add_argument("--choose-psm", default=None, metavar="P,P",
                   help="instead: score these page modes on validation writers of --choose-fold and write "
                   "psm_choice.json / .md (the test writers are not read)")
    p.add_argument("--choose-fold", type=int, default=0, help="the fold whose validation writers --choose-psm reads")
    p.add_argument("--choose-images", type=int, default=100,
                   help="validation images --choose-psm reads, spread over the fold's validation writers")
    return p


def command_line(args: argparse.Namespace) -> str:
    """The command as the records quote it: the labels CSV left out (the record names it relative to the data
    root, `labels`), the output folder only when it is relative."""
    parts = ["python -m htr_lit.cv.tesseract_baseline", f"--folds {args.folds}", f"--val-writers {args.val_writers}",
             f"--seed {args.seed}", f"-l {args.lang}"]
    if args.choose_psm:
        parts += [f"--choose-psm {args.choose_psm}", f"--choose-fold {args.choose_fold}",
                  f"--choose-images {args.choose_images}"]
    else:
        parts += [f"--psm {args.psm}"] + ([f"--limit {args.limit}"] if args.limit else [])
    return " ".join(parts + ([f"--out {args.out}"] if not args.out.is_absolute() else []))


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def choose_psm(args: argparse.Namespace, folds: list[Fold], rows: dict, root: Path, binary: str,
               common: dict[str, Any]) -> None:
    """Score each page mode on the first images of the chosen fold's validation writers; the lowest CER wins."""
    fold = folds[args.choose_fold]
    per_writer = -(-args.choose_images // len(fold.val_writers))  # ceil: the images spread over the writers
    items = [item for w in fold.val_writers for item in rows[w][:per_writer]]
    images = [rel(path, root) for path, _ in items]
    scores = {}
    for psm in (int(x) for x in args.choose_psm.split(",")):
        cache = Readings(args.out / f"readings_psm{psm}_{args.lang}.jsonl", {**common["engine"], "psm": psm})
        read_missing(binary, root, images, cache, args.lang, psm, f"psm {psm}")
        scores[str(psm)] = figures([cache.items[i]["reading"] for i in images], [t for _, t in items])
    chosen = min(scores, key=lambda k: scores[k]["cer"])
    write_json(args.out / "psm_choice.json", {
        **common, "fold": fold.index, "val_writers": list(fold.val_writers), "images_per_writer": per_writer,
        "images": len(items), "psm": scores, "chosen": int(chosen),
    })
    lines = [f"## Tesseract page mode chosen on validation writers {', '.join(fold.val_writers)} of fold "
             f"{fold.index} ({len(items)} images)", "", "| --psm | CER % | WER % | word acc % |", "|---|---|---|---|"]
    lines += [f"| {k}{' (chosen)' if k == chosen else ''} | {100 * s['cer']:.2f} | {100 * s['wer']:.2f} | "
              f"{100 * s['word_acc']:.2f} |" for k, s in scores.items()]
    (args.out / "psm_choice.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def read_choice(path: Path) -> dict[str, Any] | None:
    """The validation figures behind the page mode (psm_choice.json of --choose-psm), when that file exists."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = ("fold", "val_writers", "images", "chosen")
    return {"file": path.name, **{k: data.get(k) for k in keys}, "cer": {k: s["cer"] for k, s in data["psm"].items()}}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    csv_path = args.csv or default_csv()
    if not csv_path.is_file():
        raise SystemExit(f"error: {csv_path}: labels CSV not found (set HTR_DHSD_DIR or --csv; `make fetch-dhsd`)")
    binary, version = tesseract_binary(args.lang)
    root = csv_path.parent
    rows = read_writers(csv_path)
    if args.limit:
        rows = {w: items[: args.limit] for w, items in rows.items()}
    folds = writer_folds(list(rows), k=args.folds, num_val=args.val_writers, seed=args.seed)
    common = {
        "experiment": "tesseract",
        "engine": {"version": version, "lang": args.lang},
        "labels": f"{root.name}/{csv_path.name}",  # the data root's folder and CSV, never a machine path
        "command": command_line(args),
        "machine": machine(),
        "normalisation": "whitespace collapsed, case kept",
    }
    if args.choose_psm:
        choose_psm(args, folds, rows, root, binary, common)
        return 0
    engine = {**common["engine"], "psm": args.psm}
    cache = Readings(args.out / f"readings_psm{args.psm}_{args.lang}.jsonl", engine)
    for fold in folds:
        images = [rel(path, root) for w in fold.test_writers for path, _ in rows[w]]
        print(f"fold {fold.index}: test {', '.join(fold.test_writers)} ({len(images)} images)", file=sys.stderr)
        read_missing(binary, root, images, cache, args.lang, args.psm, f"fold {fold.index}")
    results = [score_fold(fold, rows, root, cache) for fold in folds]  # every writer read: the folds' val CER too
    read = [cache.items[rel(path, root)]["s"] for fold in folds for w in fold.test_writers for path, _ in rows[w]]
    choice = read_choice(args.out / "psm_choice.json")
    mode = f"{len(folds)} folds" + (f", first {args.limit} images per writer" if args.limit else "")
    title = f"Writer cross-validation: {version} -l {args.lang} --psm {args.psm}, {mode}, no training"
    table = summarise_table(results, title)
    (args.out / "cv.md").write_text(table, encoding="utf-8")
    write_json(args.out / "cv.json", {
        **common, "engine": engine, "overrides": [], "mode": mode,
        "psm_choice": choice,  # the page modes scored on validation writers (--choose-psm), if they were
        "seconds_per_image": round(sum(read) / max(len(read), 1), 4),
        "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "folds": results,
    })
    print("\n" + table + f"\nwritten: {args.out / 'cv.md'}, {args.out / 'cv.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
