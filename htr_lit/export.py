"""Export a checkpoint for use outside this code: `python -m htr_lit.export ckpt_path=PATH format=onnx|torchscript`.

Both formats take images (B, 1, H, W) float32 (ink 1, paper 0, right-padded with 0, H = the checkpoint's
img_height) and widths (B,) int64, and return log_probs (B, T, C) and lengths (B,) int64, with the batch
and width dynamic. A `<output>.json` beside the model holds the charset (class 0 = CTC blank) and the
preprocessing, so a greedy decoder needs nothing else. See `htr_lit.models.exportable` for how the BiLSTM
is exported without packing, and docs/usage.md for an example.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig

from htr_lit.checkpoint import load_model
from htr_lit.config import CONFIG_DIR
from htr_lit.data.preprocess import Preprocess
from htr_lit.errors import ConfigError, exit_on_user_error
from htr_lit.inference.onnx_export import ATOL, example_batch, export_onnx, export_torchscript, max_abs_diff
from htr_lit.models.module import HTRModule
from htr_lit.overrides import checked_overrides

log = logging.getLogger("htr_lit.export")
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
def metadata(model: HTRModule, pre: Preprocess, fmt: str) -> dict[str, Any]:
    return {
        "format": fmt,
        "inputs": {
            "images": "float32 (B, 1, img_height, W): ink 1.0, paper 0.0, right-padded with 0",
            "widths": "int64 (B,): valid pixel columns per image",
        },
        "outputs": {"log_probs": "float32 (B, T, C) log-softmax over classes", "lengths": "int64 (B,) valid frames"},
        "tokens": model.charset.tokens,  # class index -> character; "" at 0 is the CTC blank
        "preprocess": pre.to_dict(),
        # What htr_lit.data.preprocess.Preprocess(**preprocess).load(path) does (numpy + OpenCV, no torch):
        "preprocess_steps": [
            "decode as 8-bit grayscale (EXIF orientation applied, alpha composited on white, 16-bit / float scaled)",
            "two grey levels only (binarised or dithered scan): Gaussian blur, sigma 1 px, edges replicated",
            "invert if the paper is dark: over 60 % of the pixels at or below Otsu's threshold, grey range 20+",
            "flatten uneven lighting: paper = grey closing, k x k rectangle, k = max(15, min(H, W) // 3 | 1); if its "
            "range exceeds 48 grey levels, gray = gray * 255 / paper",
            "contrast: stretch darkest ink to 0, median paper to 255 (if contrast)",
            "deslant: shear the writing upright (if deslant)",
            "crop to the ink box + crop_margin x its height (if crop_ink; no ink: unchanged)",
            "resize to img_height keeping the aspect ratio, width clamped to [min_width, max_width]; OpenCV INTER_AREA "
            "when shrinking, INTER_LINEAR when enlarging up to 3x, INTER_LANCZOS4 beyond (a low-resolution word)",
            "images = 1 - gray / 255 (ink 1.0, paper 0.0)",
        ],
        "model_cfg": model.htr_meta.get("model_cfg"),
    }


def export(cfg: DictConfig) -> tuple[Path, float]:
    """Write the model and its `.json`; run it once on a batch of mixed widths and return the max logit gap."""
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format}: choose {' or '.join(FORMATS)}")
    model, pre = load_model(cfg.ckpt_path)
    output = Path(cfg.output) if cfg.get("output") else Path(cfg.ckpt_path).with_suffix(FORMATS[cfg.format])
    output.parent.mkdir(parents=True, exist_ok=True)
    if cfg.format == "onnx":
        export_onnx(model, pre, output, opset=int(cfg.opset))
    else:
        export_torchscript(model, pre, output)
    output.with_suffix(output.suffix + ".json").write_text(
        json.dumps(metadata(model, pre, cfg.format), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    # A different batch (sizes and widths) from the one traced: catches shapes frozen at export time.
    images, widths = example_batch(pre, widths=(48, 200), seed=1)
    return output, max_abs_diff(model, output, images, widths)


@checked_overrides("export")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with exit_on_user_error():
        output, diff = export(cfg)
    status = "ok" if np.isfinite(diff) and diff <= ATOL else f"OVER the {ATOL:g} tolerance"
    print(f"wrote {output} and {output}.json; max |log_prob - PyTorch| on a check batch: {diff:.2e} ({status})")
    if status != "ok":
        sys.exit(1)


if __name__ == "__main__":
    main()
