"""Copy a trained checkpoint into the package as a slim, inference-ready model (weights + htr-lit
metadata, no optimizer state): `python scripts/ship_model.py RUN/checkpoints/best.ckpt htr_lit/assets/models/X.ckpt`.

The copy is checked by loading it back (`htr_lit.checkpoint.load_model`) and running it on one image;
its size and the run's metrics.json figures are printed for the model card.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from htr_lit.checkpoint import load_model, save


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="a checkpoint written by htr_lit.train (best.ckpt)")
    ap.add_argument("dest", type=Path, help="where the slim copy goes, e.g. htr_lit/assets/models/pretrained.ckpt")
    ap.add_argument("--keep-train-texts", action="store_true",
                    help="keep the training transcriptions (the beam/lexicon decoders' default LM and lexicon); "
                         "off: the file stays small and those decoders need their own word lists")
    args = ap.parse_args(argv)
    model, _ = load_model(args.src)
    if not args.keep_train_texts:
        model.htr_meta = {**model.htr_meta, "train_texts": []}
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    save(model, args.dest)
    shipped, pre = load_model(args.dest)
    with torch.inference_mode():
        log_probs, lengths = shipped(torch.zeros(1, 1, pre.img_height, 128), torch.tensor([128]))
    assert log_probs.shape[-1] == shipped.charset.num_classes and int(lengths[0]) > 0
    metrics_file = args.src.parent.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    figures = {k: metrics[k] for k in ("val/cer", "test/cer", "epochs", "time/train_s") if k in metrics}
    print(f"shipped {args.dest} ({args.dest.stat().st_size / 1e6:.2f} MB, {shipped.num_parameters()} params, "
          f"{len(shipped.charset.chars)} characters) from {args.src}; {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
