"""Benchmark every CTC decoder on a checkpoint's test split: ms per word image, CER and WER.

The model runs once; its log-probabilities are then decoded by greedy, prefix beam search (widths
1/4/16/64, with and without the character LM), word beam search (words / ngrams) and closest-word, each
timed with one torch thread as the median of `--repeats` runs (CPU time of this process by default, so
that other jobs disturb it less; `--clock wall` for wall time). LMs and dictionaries come from the
checkpoint's training transcriptions, or from `--lm-text` / `--words-file` for older checkpoints; never
from the test labels. Results go to docs/decoders.json and a markdown table on stdout.

pyctcdecode (which pins numpy<2) runs in its own venv (`.venv-bench`, created on first use) on the
same log-probs saved to an .npz: its time, and how often it agrees with our beam search without LM.

    python -m htr_lit.measuring.bench_decoders --ckpt PATH [--test-csv PATH | data=dhsd ...] [--lm-text FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR, PROJECT_ROOT, compose_config
from htr_lit.decoding.factory import DecoderConfigError, build_decoder
from htr_lit.inference.labelled import build_test_datamodule
from htr_lit.metrics import text_metrics

Batches = list[tuple[torch.Tensor, torch.Tensor, list[str]]]  # (log_probs (B, T, C), lengths (B,), texts)

# Runs inside .venv-bench (numpy<2, pyctcdecode, no torch): argv = npz, widths (comma-separated), repeats, clock.
WORKER = r"""
import json, statistics, sys, time
import numpy as np
from pyctcdecode import build_ctcdecoder

data = np.load(sys.argv[1])
widths, repeats = [int(w) for w in sys.argv[2].split(",")], int(sys.argv[3])
clock = time.process_time if sys.argv[4] == "cpu" else time.perf_counter
tokens = json.loads(str(data["tokens"]))
lp, lengths = data["log_probs"], data["lengths"]
decoder = build_ctcdecoder(tokens)
images = [lp[i, : int(n)] for i, n in enumerate(lengths)]
out = {}
for w in widths:
    decoder.decode_beams(images[0], beam_width=w)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = clock()
        texts = [decoder.decode_beams(x, beam_width=w)[0][0] for x in images]
        times.append(clock() - t0)
    out[w] = {"ms_per_image": 1000 * statistics.median(times) / len(images), "texts": texts}
print(json.dumps(out))
"""


def compose_eval(overrides: list[str]) -> DictConfig:
    cfg = compose_config("eval", overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = tempfile.mkdtemp(prefix="bench_decoders_")  # nothing is written there
    return cfg


def model_outputs(cfg: DictConfig, limit: int | None) -> tuple[Any, Batches, str]:
    """Run the model once over the test split: the loaded model, its outputs per batch, a data summary."""
    model, pre = load_model(cfg.ckpt_path)
    datamodule = build_test_datamodule(cfg, model, pre)
    batches: Batches = []
    n = 0
    with torch.no_grad():
        for batch in datamodule.test_dataloader():
            log_probs, lengths = model(batch["images"], batch["widths"])  # (B, T, C), (B,)
            batches.append((log_probs, lengths, batch["texts"]))
            n += len(batch["texts"])
            if limit is not None and n >= limit:
                break
    if limit is not None and n > limit:
        lp, ln, texts = batches[-1]
        keep = len(texts) - (n - limit)
        batches[-1] = (lp[:keep], ln[:keep], texts[:keep])
    return model, batches, datamodule.describe()


def decoder_specs(widths: list[int], lm_text: str | None, words_file: str | None) -> list[tuple[str, DictConfig]]:
    """(result key, decoder config) for every benchmarked variant, from conf/decoder/*.yaml."""

    def spec(name: str, **over: Any) -> DictConfig:
        cfg = OmegaConf.load(Path(CONFIG_DIR) / "decoder" / f"{name}.yaml")
        with open_dict(cfg):
            bases = cfg.pop("defaults", [])  # a preset (e.g. lexicon_wordlists) on top of another option
        for base in bases:
            cfg = OmegaConf.merge(spec(str(base)), cfg)
        if name == "beam" and lm_text:
            over.setdefault("lm_text", lm_text)
        if name in ("lexicon", "closest") and words_file:
            over.setdefault("words_file", words_file)
        return OmegaConf.merge(cfg, over)

    specs = [("greedy", spec("greedy"))]
    for w in widths:
        specs.append((f"beam{w}", spec("beam", beam_width=w, lm_weight=0.0)))
        specs.append((f"beam{w}_lm", spec("beam", beam_width=w)))
    specs += [
        ("lexicon_words", spec("lexicon", mode="words")),
        ("lexicon_ngrams", spec("lexicon", mode="ngrams")),
        ("lexicon_wordlists", spec("lexicon_wordlists")),
        ("closest", spec("closest")),
    ]
    return specs


def time_decoder(
    decoder: Callable, batches: Batches, repeats: int, clock: Callable[[], float]
) -> tuple[float, list[str]]:
    """Median over `repeats` of the time to decode every batch, in ms per image; the best texts."""
    decoder(batches[0][0][:2], batches[0][1][:2])  # warm-up (lazy initialisation)
    n = sum(len(texts) for _, _, texts in batches)
    times, preds = [], []
    for _ in range(repeats):
        start = clock()
        preds = [hyps[0].text for lp, lengths, _ in batches for hyps in decoder(lp, lengths)]
        times.append(clock() - start)
    return 1000 * statistics.median(times) / n, preds


def score(preds: list[str], truth: list[str]) -> dict[str, float]:
    """CER / WER / word accuracy exactly as eval computes them (the same torchmetrics collection)."""
    metrics = text_metrics("")
    metrics.update(preds, truth)
    return {k: round(float(v), 6) for k, v in metrics.compute().items()}


def ensure_bench_venv(venv: Path) -> Path | None:
    """The venv's python with pyctcdecode importable, creating the venv if needed; None (and why) if not."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import pyctcdecode"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with pyctcdecode and numpy<2 (once) ...", file=sys.stderr, flush=True)
    steps = [
        ["python3", "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", "pyctcdecode", "numpy<2"],
    ]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"pyctcdecode skipped: {' '.join(cmd)} failed ({e})", file=sys.stderr)
            return None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            print(f"pyctcdecode skipped: {' '.join(cmd)} failed: {tail[0]}", file=sys.stderr)
            return None
    return python if subprocess.run(check, capture_output=True).returncode == 0 else None


def run_pyctcdecode(
    python: Path, batches: Batches, tokens: list[str], widths: list[int], repeats: int, clock: str
) -> dict[int, dict[str, Any]] | None:
    lps = [lp[i, : int(n)] for lp, lengths, _ in batches for i, n in enumerate(lengths.tolist())]
    T = max(x.shape[0] for x in lps)
    padded = np.zeros((len(lps), T, len(tokens)), dtype=np.float32)
    for i, x in enumerate(lps):
        padded[i, : x.shape[0]] = x.numpy()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "log_probs.npz"
        np.savez(npz, log_probs=padded, lengths=np.array([x.shape[0] for x in lps]), tokens=json.dumps(tokens))
        cmd = [str(python), "-c", WORKER, str(npz), ",".join(map(str, widths)), str(repeats), clock]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"pyctcdecode worker failed: {proc.stderr.strip()[-2000:]}", file=sys.stderr)
        return None
    return {int(w): r for w, r in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| decoder | ms / image | CER % | WER % | word acc % | note |", "|---|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['decoder']} | – | – | – | – | skipped: cannot be built (see the JSON) |")
            continue
        note = f"{100 * r['agreement']:.1f} % same text as {r['compared_with']}" if "agreement" in r else ""
        lines.append(
            f"| {r['decoder']} | {r['ms_per_image']:.3f} | {100 * r['cer']:.2f} | {100 * r['wer']:.2f} "
            f"| {100 * r['word_acc']:.2f} | {note} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True, help="checkpoint (best.ckpt)")
    ap.add_argument("--test-csv", help="labels CSV to score instead of the data option's test split")
    ap.add_argument("--lm-text", help="training texts (one per line) for the character LM, if the checkpoint has none")
    ap.add_argument("--words-file", help="word list for lexicon/closest (default: --lm-text, else the checkpoint's)")
    ap.add_argument("--widths", default="1,4,16,64", help="beam widths, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, help="score only the first N test images")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "decoders.json"))
    ap.add_argument("--bench-venv", default=str(PROJECT_ROOT / ".venv-bench"))
    ap.add_argument("--no-pyctcdecode", action="store_true")
    ap.add_argument("--note", default="", help="recorded in the JSON, e.g. 'taken under load'")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of the eval config, e.g. data=dhsd")
    args = ap.parse_args()
    torch.set_num_threads(1)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    widths = [int(w) for w in args.widths.split(",")]

    overrides = [f"ckpt_path={args.ckpt}", *args.overrides] + ([f"test_csv={args.test_csv}"] if args.test_csv else [])
    cfg = compose_eval(overrides)
    model, batches, data_desc = model_outputs(cfg, args.limit)
    tokens, train_texts = model.charset.tokens, model.htr_meta.get("train_texts")
    truth = [t for _, _, texts in batches for t in texts]
    print(
        f"{len(truth)} test images ({data_desc}); {len(tokens)} classes; 1 thread, {args.clock} time, "
        f"median of {args.repeats}",
        file=sys.stderr,
        flush=True,
    )

    summary: dict[str, Any] = {
        "ckpt": str(args.ckpt),
        "data": args.test_csv or data_desc,
        "n_images": len(truth),
        "threads": 1,
        "clock": args.clock,
        "repeats": args.repeats,
        "note": args.note,
        "texts_source": "lm_text/words_file"
        if args.lm_text or args.words_file
        else ("checkpoint train_texts" if train_texts else "none"),
        "torch": torch.__version__,
    }
    results: list[dict[str, Any]] = []
    preds_of: dict[str, list[str]] = {}
    for key, spec in decoder_specs(widths, args.lm_text, args.words_file or args.lm_text):
        entry: dict[str, Any] = {"decoder": key, "config": OmegaConf.to_container(spec)}
        try:
            decoder = build_decoder(spec, tokens, train_texts)
        except DecoderConfigError as e:
            print(f"{key}: skipped ({e})", file=sys.stderr)
            results.append({**entry, "error": str(e)})
            continue
        ms, preds = time_decoder(decoder, batches, args.repeats, clock)
        preds_of[key] = preds
        entry.update(ms_per_image=round(ms, 4), **score(preds, truth))
        summary[f"{key}_ms_per_image"] = entry["ms_per_image"]
        results.append(entry)
        print(f"{key:16s} {ms:9.3f} ms/img  CER {100 * entry['cer']:6.2f} %", file=sys.stderr, flush=True)

    python = None if args.no_pyctcdecode else ensure_bench_venv(Path(args.bench_venv))
    if python is not None:
        out = run_pyctcdecode(python, batches, tokens, widths, args.repeats, args.clock)
        for w, r in (out or {}).items():
            key, ours = f"pyctcdecode_beam{w}", preds_of.get(f"beam{w}")
            entry = {
                "decoder": key,
                "config": {"beam_width": w, "lm": None, "defaults": "pyctcdecode's pruning"},
                "ms_per_image": round(r["ms_per_image"], 4),
                **score(r["texts"], truth),
            }
            if ours is not None:
                entry.update(
                    compared_with=f"beam{w}",
                    agreement=round(sum(a == b for a, b in zip(r["texts"], ours)) / len(ours), 4),
                )
                summary[f"{key}_agreement"] = entry["agreement"]
            summary[f"{key}_ms_per_image"] = entry["ms_per_image"]
            results.append(entry)
    elif not args.no_pyctcdecode:
        summary["pyctcdecode"] = "not available (could not create the bench venv; see stderr)"

    summary["results"] = results
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"\nwritten: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
