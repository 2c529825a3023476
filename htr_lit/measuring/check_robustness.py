"""How a recognizer's readings hold up when a word image is degraded, and how even the paper of real and
synthetic images is (what `ink.flatten_paper` leaves alone).

1. Robustness: the first `--words` rows of a labels CSV (default: DHSD writer 2 in ../shared) are read clean
   and as variants (3x upscaled, rotated 5°, Gaussian blur 1.5 px, JPEG quality 15, downscaled to a third,
   a shadow from grey 90 to 240 across the word); per variant, how many words read differently from the
   clean image, with the readings.
2. Bitonal scans: `--bitonal-words` words of each of `--bitonal-writers` saved as 1-bit images (Pillow's
   Floyd-Steinberg dithering; Otsu's threshold), CER against their labels as read today and with
   `ink.soften_bitonal` switched off (how they read before it).
3. Low resolution (with `--lowres-ckpt`, e.g. a writer-CV fold's checkpoint and its test writers in
   `--lowres-writers`; several checkpoints, one table each, to compare recipes on the same fold): every
   image of those writers at full, half and a third of its size, CER with today's
   resize and with `preprocess.SHARP_UPSCALE` switched off (bilinear at every scale, as before).
4. Lighting: the range (max - min grey level) of `ink.paper_brightness` over every image of the labels CSV
   and over `--synthetic N` images of a synthetic split, against `ink.MAX_SHADING`.

    python -m htr_lit.measuring.check_robustness [--ckpt CKPT] [--labels CSV] [--writer 2] [--words 6]
        [--bitonal-writers 2,10,20,30,5 --bitonal-words 12]
        [--lowres-ckpt outputs/cv/ablation_dilated_1d/fold_4/checkpoints/last.ckpt --lowres-writers 15,19,25,32,35,7]
        [--synthetic-csv data/synth_names/train.csv --synthetic 20000] [--checks robustness,bitonal,lowres,lighting]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from PIL import Image, ImageFilter

from htr_lit.config import PROJECT_ROOT
from htr_lit.data import ink, preprocess
from htr_lit.data.preprocess import read_gray
from htr_lit.inference.scoring import Reader, figures


def shadow(im: Image.Image) -> Image.Image:
    """Paper lit from grey 90 on the left to 240 on the right; the ink keeps 20 % of its paper's brightness."""
    gray = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    light = np.linspace(90, 240, gray.shape[1], dtype=np.float32)[None, :]
    return Image.fromarray((light * (0.2 + 0.8 * gray)).astype(np.uint8))


CHECKS = ("robustness", "bitonal", "lowres", "lighting")
VARIANTS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "upscaled 3x": lambda im: im.resize((im.width * 3, im.height * 3), Image.BICUBIC),
    "rotated 5°": lambda im: im.rotate(5, expand=True, fillcolor=255),
    "blur 1.5 px": lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
    "JPEG quality 15": lambda im: im,  # saved with quality=15 below
    "downscaled to 1/3": lambda im: im.resize((im.width // 3, im.height // 3), Image.BILINEAR),
    "shadow 90-240": shadow,
}


def readings(ckpt: Path, paths: list[Path]) -> list[str]:
    return Reader(ckpt, batch_size=16, threads=1).read(paths)


def robustness(ckpt: Path, rows: list[dict[str, str]], root: Path, tmp: Path) -> None:
    paths = []
    for i, row in enumerate(rows):
        im = Image.open(root / row["file_name"]).convert("L")
        for j, (name, make) in enumerate({"clean": lambda im: im, **VARIANTS}.items()):
            jpeg = name.startswith("JPEG")
            out = tmp / f"{i}_{j}.{'jpg' if jpeg else 'png'}"
            make(im).save(out, **({"quality": 15} if jpeg else {}))
            paths.append(out)
    texts = readings(ckpt, paths)
    per_word = len(VARIANTS) + 1
    clean = texts[::per_word]
    print(f"{len(rows)} words ({', '.join(r['text'] for r in rows)}); clean readings: {', '.join(clean)}")
    print("| variant | words read differently from the clean image | readings |\n|---|---:|---|")
    for k, name in enumerate(VARIANTS, start=1):
        got = texts[k::per_word]
        changed = sum(a != b for a, b in zip(got, clean))
        print(f"| {name} | {changed} of {len(rows)} | {', '.join(got)} |")


def otsu_bitonal(im: Image.Image) -> Image.Image:
    gray = np.asarray(im.convert("L"))
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return Image.fromarray(np.where(gray > threshold, 255, 0).astype(np.uint8)).convert("1", dither=Image.Dither.NONE)


BITONAL: dict[str, Callable[[Image.Image], Image.Image]] = {
    "scan (grey)": lambda im: im,
    "1-bit, dithered": lambda im: im.convert("1"),
    "1-bit, Otsu threshold": otsu_bitonal,
}


def bitonal(ckpt: Path, rows: list[dict[str, str]], root: Path, tmp: Path) -> None:
    truth = [r["text"] for r in rows]
    print(f"\n{len(rows)} words of writers {', '.join(sorted({r['writer_id'] for r in rows}, key=int))}, CER %:")
    print("| image | read today | without ink.soften_bitonal |\n|---|---:|---:|")
    for k, (name, make) in enumerate(BITONAL.items()):
        paths = []
        for i, row in enumerate(rows):
            paths.append(tmp / f"bitonal_{k}_{i}.png")
            make(Image.open(root / row["file_name"]).convert("L")).save(paths[-1])
        today = readings(ckpt, paths)
        with mock.patch.object(ink, "soften_bitonal", lambda gray: gray):
            before = readings(ckpt, paths)
        today_cer, before_cer = (100 * figures(texts, truth)["cer"] for texts in (today, before))
        print(f"| {name} | {today_cer:.2f} | {before_cer:.2f} |")


def lowres(ckpt: Path, rows: list[dict[str, str]], root: Path, tmp: Path) -> None:
    truth = [r["text"] for r in rows]
    print(f"\n{len(rows)} words of writers {', '.join(sorted({r['writer_id'] for r in rows}, key=int))} "
          f"({ckpt}), CER %:")
    print("| size | read today | bilinear only (SHARP_UPSCALE off) |\n|---|---:|---:|")
    for scale in (1, 2, 3):
        paths = []
        for i, row in enumerate(rows):
            im = Image.open(root / row["file_name"]).convert("L")
            paths.append(tmp / f"lowres_{scale}_{i}.png")
            im.resize((im.width // scale, im.height // scale), Image.BILINEAR).save(paths[-1])
        today = readings(ckpt, paths)
        with mock.patch.object(preprocess, "SHARP_UPSCALE", float("inf")):
            before = readings(ckpt, paths)
        today_cer, before_cer = (100 * figures(texts, truth)["cer"] for texts in (today, before))
        print(f"| {'full' if scale == 1 else f'1/{scale}'} | {today_cer:.2f} | {before_cer:.2f} |")


def spread(paths: list[Path]) -> np.ndarray:
    return np.array([int(np.ptp(ink.paper_brightness(read_gray(p)))) for p in paths])


def lighting(name: str, paths: list[Path]) -> None:
    s = spread(paths)
    p99, p999 = np.percentile(s, [99, 99.9])
    print(f"{name}: {len(s)} images, paper brightness range (grey levels): max {s.max()}, 99th percentile {p99:.0f}, "
          f"99.9th {p999:.0f}; above MAX_SHADING={ink.MAX_SHADING} (flattened): {int((s > ink.MAX_SHADING).sum())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, default=PROJECT_ROOT / "htr_lit/assets/models/recognizer.ckpt")
    parser.add_argument("--labels", type=Path, default=PROJECT_ROOT / "../shared/data/dhsd/labels.csv")
    parser.add_argument("--writer", default="2", help="writer_id whose first words are degraded")
    parser.add_argument("--words", type=int, default=6)
    parser.add_argument("--bitonal-writers", default="2,10,20,30,5", help="writer_ids for the bitonal check")
    parser.add_argument("--bitonal-words", type=int, default=12, help="words per writer in the bitonal check")
    parser.add_argument("--lowres-ckpt", type=Path, nargs="+", default=[],
                        help="checkpoint(s) for the low-resolution check, one table each")
    parser.add_argument("--lowres-writers", default="", help="writer_ids for the low-res check (all images)")
    parser.add_argument("--synthetic-csv", type=Path, default=PROJECT_ROOT / "data/synth_names/train.csv")
    parser.add_argument("--synthetic", type=int, default=20000, help="synthetic images sampled (seed 0); 0: none")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"which checks run, of {','.join(CHECKS)}")
    args = parser.parse_args()
    checks = {c.strip() for c in args.checks.split(",") if c.strip()}
    if checks - set(CHECKS):
        parser.error(f"--checks: unknown {sorted(checks - set(CHECKS))}; choose from {','.join(CHECKS)}")
    with open(args.labels, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    root = args.labels.parent
    mine = [r for r in rows if r.get("writer_id", "") == args.writer][: args.words]
    with tempfile.TemporaryDirectory() as tmp:
        if "robustness" in checks:
            robustness(args.ckpt, mine, root, Path(tmp))
        picked = [r for w in args.bitonal_writers.split(",") for r in
                  [r for r in rows if r.get("writer_id", "") == w.strip()][: args.bitonal_words]]
        if picked and "bitonal" in checks:
            bitonal(args.ckpt, picked, root, Path(tmp))
        writers = {w.strip() for w in args.lowres_writers.split(",") if w.strip()}
        for ckpt in args.lowres_ckpt if "lowres" in checks else []:
            lowres(ckpt, [r for r in rows if r.get("writer_id", "") in writers], root, Path(tmp))
    if "lighting" not in checks:
        return
    lighting(str(args.labels), [root / r["file_name"] for r in rows])
    if args.synthetic and args.synthetic_csv.is_file():
        with open(args.synthetic_csv, encoding="utf-8") as f:
            names = [r["file_name"] for r in csv.DictReader(f)]
        pick = random.Random(0).sample(names, min(args.synthetic, len(names)))
        lighting(str(args.synthetic_csv), [args.synthetic_csv.parent / n for n in pick])


if __name__ == "__main__":
    main()
