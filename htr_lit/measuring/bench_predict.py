"""End-to-end predict throughput per backend (torch, onnx, onnx-int8), part of `make bench`.

    python -m htr_lit.measuring.bench_predict [--ckpt A.ckpt [B.ckpt ...]] [--folder PNG_DIR [--labels CSV]]
        [--images 1000] [--backends torch,onnx,onnx-int8[,torch-tta,onnx-tta,torch-names,onnx-names]]
        [--batch-size 32] [--threads N]
        [--repeats 3] [--out docs/]

Without --folder, `--images` DHSD-like place names (256 x 64 canvases, the synthetic renderer) are written
to a temporary folder with their texts, so CER is known. Each run times the whole of predict's path on
every file (decode, preprocess, width-sorted batches, model, greedy decoding (`-names`: the names LM's beam
search), the word confidence as predict computes it, a tsv line written); start-up
(checkpoint, backend from a warm cache, one warm-up batch) and the one-off export / quantization are
timed apart. Writes OUT/performance_predict.json and the section of OUT/performance.md between its markers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from htr_lit.assets import MODELS_DIR
from htr_lit.checkpoint import load_model
from htr_lit.config import project_root, shown_path
from htr_lit.data.formats import IMAGE_SUFFIXES
from htr_lit.decoding.factory import build_decoder, decoder_name, decoder_options
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.inference.backend import build_backend
from htr_lit.inference.batching import decode_images, load_window, transcribe
from htr_lit.inference.calibration import calibration_of, hypotheses_needed, word_confidence
from htr_lit.inference.formatting import format_hypotheses
from htr_lit.inference.scoring import decoder_spec, figures
from htr_lit.inference.tta import DEFAULT_FACTORS, StretchFusion
from htr_lit.measuring.bench import machine
from htr_lit.measuring.bench_predict_markdown import NAME, WRITER, section
from htr_lit.results import doc_block

SHIPPED = MODELS_DIR / "recognizer.ckpt"
# name -> (backend, int8, test-time stretch, decoder): predict's `backend=`, `int8=`, `tta=true`, `decoder=`
BACKENDS = {"torch": ("torch", False, False, "greedy"), "onnx": ("onnx", False, False, "greedy"),
            "onnx-int8": ("onnx", True, False, "greedy"), "torch-tta": ("torch", False, True, "greedy"),
            "onnx-tta": ("onnx", False, True, "greedy"), "torch-names": ("torch", False, False, "beam_names"),
            "onnx-names": ("onnx", False, False, "beam_names")}


def render_folder(folder: Path, n: int, seed: int = 0) -> dict[Path, str]:
    """The first `n` test-split images of the synthetic place names (seed 0: the recipe's test set, never
    trained on) as PNGs in `folder` -> their texts."""
    from htr_lit.inference.quantize import rendered_names

    labels = {}
    for i, (text, image) in enumerate(rendered_names(n, seed=seed, split="test")):
        path = folder / f"{i:05d}.png"
        Image.fromarray(image).save(path)
        labels[path] = text
    return labels


def read_folder(folder: Path, labels_csv: Path | None, n: int) -> dict[Path, str | None]:
    """The first `n` images of a folder (sorted, recursive) -> text from a `file_name,text` CSV, if given."""
    texts: dict[Path, str] = {}
    if labels_csv:
        with labels_csv.open(encoding="utf-8", newline="") as f:
            texts = {(labels_csv.parent / r["file_name"]).resolve(): r["text"] for r in csv.DictReader(f)}
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:n]
    return {p: texts.get(p.resolve()) for p in paths}


def import_seconds() -> float:
    """Wall time of `import htr_lit.predict` in a fresh interpreter (the CLI's fixed start-up cost)."""
    code = "import time; t = time.perf_counter(); import htr_lit.predict; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def start(name: str, ckpt: Path, cache: Path, threads: int, paths: list[Path], batch_size: int | None):
    """Load the checkpoint and build the backend (cache already warm), then one warm-up batch; timed.
    batch_size None: the backend's own (predict's default)."""
    t = time.perf_counter()
    model, pre = load_model(ckpt)
    kind, int8, stretched, decoding = BACKENDS[name]
    backend = build_backend(kind, model, pre, ckpt, int8=int8, threads=threads, cache_dir=cache)
    tta = StretchFusion(DEFAULT_FACTORS, model.charset.tokens, pre.min_width) if stretched else None
    # predict's rule (calibration.word_confidence): greedy, the plain calibration (with tta, the one fitted on its
    # stretches); the names LM, the checkpoint's calibration of it (its runner-up kept), else P(text | image)
    if decoding == "greedy":
        decoder = GreedyDecoder(model.charset.tokens)
        calibration = calibration_of(model, tta.factors if tta else None)
    else:
        spec = decoder_spec(decoding)
        calibration = word_confidence(model, decoder_name(spec), None, decoder_options(spec))
        decoder = build_decoder(spec, model.charset.tokens, model.htr_meta.get("train_texts"),
                                top_n=hypotheses_needed(calibration))
    batch_size = batch_size or backend.batch_size
    list(transcribe(paths[:batch_size], pre, backend, decoder, batch_size, tta=tta, calibration=calibration))
    return (pre, backend, decoder, batch_size, tta, calibration), time.perf_counter() - t


def timed_run(paths: list[Path], parts, out: Path) -> tuple[float, list[str]]:
    """images/s of predict's path over `paths` (with the checkpoint's word-confidence calibration, as predict), a
    tsv line written per image; the texts."""
    pre, backend, decoder, batch_size, tta, calibration = parts
    texts = []
    t = time.perf_counter()
    with out.open("w", encoding="utf-8") as f:
        for r in transcribe(paths, pre, backend, decoder, batch_size, tta=tta, calibration=calibration):
            f.write("\n".join(format_hypotheses(r.path, r.hypotheses, "tsv", 1)) + "\n")
            texts.append(r.hypotheses[0].text if r.hypotheses else "")
    return len(paths) / (time.perf_counter() - t), texts


def stage_ms(paths: list[Path], parts) -> tuple[float, float]:
    """ms per image of the two halves of predict's path, each alone in one pass: decode + preprocess (the
    loader thread's work), then the width-sorted batches through the model + greedy decoding."""
    pre, backend, decoder, batch_size, tta, _ = parts
    t = time.perf_counter()
    images, _ = load_window(paths, pre)
    loaded = time.perf_counter()
    decode_images(images, backend, decoder, batch_size, tta)
    done = time.perf_counter()
    return 1e3 * (loaded - t) / len(paths), 1e3 * (done - loaded) / len(paths)


def compute_note(labels: dict[Path, str | None], ckpt: Path, target: float = 500.0, named: bool = False) -> str:
    """The model's forward GFLOP per image at the inputs' median preprocessed width, and what a target rate
    would take: the ceiling any backend meets on this machine."""
    from torch.utils.flop_counter import FlopCounterMode

    model, pre = load_model(ckpt)
    width = int(statistics.median(pre.load(p).shape[1] for p in list(labels)[:200]))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 1, pre.img_height, width), torch.tensor([width]))
    gflop = counter.get_total_flops() / 1e9
    return (f"Compute{f' ({ckpt.stem})' if named else ''}: after preprocessing the median input is "
            f"{pre.img_height} x {width} px, where the model costs "
            f"{gflop:.2f} GFLOP per image (forward, `FlopCounterMode`), so {target:.0f} images/s needs "
            f"{target * gflop:.0f} GFLOP/s of sustained fp32 compute.")


def bench(labels: dict[Path, str | None], ckpts: Path | list[Path], names: list[str], batch_size: int | None,
          threads: int, repeats: int, tmp: Path) -> list[dict]:
    """One row per checkpoint x backend (checkpoint-major); every pair is timed in turn each round, so the
    ratios between models and backends come from one run. A row's `model` is its checkpoint's file stem."""
    torch.set_num_threads(threads)
    paths = list(labels)
    ckpts = [ckpts] if isinstance(ckpts, (str, Path)) else list(ckpts)
    pairs = [(Path(c), name) for c in ckpts for name in names]
    rows, parts = {}, {}
    for ckpt, name in pairs:  # first use: export / quantize into an empty cache
        kind, int8, _, _ = BACKENDS[name]
        t = time.perf_counter()
        if kind == "onnx":
            model, pre = load_model(ckpt)
            build_backend(kind, model, pre, ckpt, int8=int8, threads=threads, cache_dir=tmp / "cache")
        rows[ckpt, name] = {"model": ckpt.stem, "backend": name, "runs_img_s": [],
                            "first_use_s": time.perf_counter() - t if kind == "onnx" else 0.0}
    for ckpt, name in pairs:
        parts[ckpt, name], rows[ckpt, name]["startup_s"] = start(name, ckpt, tmp / "cache", threads, paths, batch_size)
        rows[ckpt, name]["batch_size"] = parts[ckpt, name][3]
    texts = {}
    for _ in range(repeats):  # round-robin: a slow spell of a shared machine hits every pair alike
        for ckpt, name in pairs:
            img_s, texts[ckpt, name] = timed_run(paths, parts[ckpt, name], tmp / f"{name}.tsv")
            rows[ckpt, name]["runs_img_s"].append(round(img_s, 2))
            print(f"{ckpt.stem} {name}: {img_s:.1f} img/s", flush=True)
    for ckpt, name in pairs:
        rows[ckpt, name]["load_ms"], rows[ckpt, name]["model_ms"] = stage_ms(paths, parts[ckpt, name])
    truth = [labels[p] for p in paths]
    for ckpt, name in pairs:
        r = rows[ckpt, name]
        r["img_s"] = statistics.median(r["runs_img_s"])
        r["cer"] = figures(texts[ckpt, name], truth)["cer"] if all(t is not None for t in truth) else None
        base = texts.get((ckpt, "torch"))
        r["cer_vs_torch"] = figures(texts[ckpt, name], base)["cer"] if base is not None else None
    return [rows[pair] for pair in pairs]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m htr_lit.measuring.bench_predict", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", type=Path, nargs="+", default=[SHIPPED],
                   help="checkpoint(s), timed in turn in one run (default: the shipped recognizer)")
    p.add_argument("--folder", type=Path, help="PNG files to transcribe (default: rendered place names)")
    p.add_argument("--labels", type=Path, help="file_name,text CSV for --folder (CER column)")
    p.add_argument("--images", type=int, default=1000, help="images (rendered, or the first of --folder)")
    p.add_argument("--backends", default="torch,onnx,onnx-int8",
                   help=f"comma-separated, of {','.join(BACKENDS)} (-tta: predict's tta=true, 5 width stretches; "
                        "-names: decoder=beam_names, the names LM, with its confidence)")
    p.add_argument("--batch-size", type=int, help="images per batch (default: each backend's, as predict)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch / onnxruntime threads")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--note", default="", help="a remark on the machine's state, e.g. 'contended by 2 trainings'")
    p.add_argument("--out", type=Path, default=project_root() / "docs")
    args = p.parse_args(argv)
    names = args.backends.split(",")
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        p.error(f"--backends: unknown {unknown}; choose from {', '.join(BACKENDS)}")
    with tempfile.TemporaryDirectory(prefix="htr_bench_predict_") as tmp:
        info = machine(args.threads) | ({"note": args.note} if args.note else {})
        if args.folder:
            labels, source = read_folder(args.folder, args.labels, args.images), str(args.folder)
        else:
            (Path(tmp) / "images").mkdir()
            labels = render_folder(Path(tmp) / "images", args.images)
            source = "the synthetic place names' test split, seed 0, 256 x 64"
        rows = bench(labels, args.ckpt, names, args.batch_size, args.threads, args.repeats, Path(tmp))
        notes = [compute_note(labels, c, named=len(args.ckpt) > 1) for c in args.ckpt]  # images still exist
    shown_ckpts = ", ".join(shown_path(c) for c in args.ckpt)
    shown_args = shlex.join(argv if argv is not None else sys.argv[1:])
    report = {"machine": info, "import_s": import_seconds(), "backends": rows, "notes": notes,
              "settings": {"args": shown_args, "images": len(labels), "source": source, "ckpt": shown_ckpts,
                           "threads": args.threads, "repeats": args.repeats}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "performance_predict.json").write_text(json.dumps(report, indent=2) + "\n")
    md = args.out / "performance.md"
    md.write_text(doc_block.splice(section(report), md.read_text() if md.is_file() else "", NAME, WRITER))
    print(section(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
