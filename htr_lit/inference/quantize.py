"""int8 quantization of an exported model: onnxruntime static quantization (QDQ, per-channel int8 weights,
uint8 activations) calibrated on rendered place-name images. Dynamic quantization turns the convolutions
into ConvInteger, which onnxruntime's CPU provider runs several times slower than fp32 (measured in
docs/performance.md), so the activations' ranges are calibrated once instead."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from htr_lit.data.preprocess import Preprocess

CALIBRATION_IMAGES = 48
CALIBRATION_SEED = 1234  # not a seed of any dataset split: the calibration words are nobody's test data
CALIBRATION_BATCH = 16


def rendered_names(n: int, seed: int = CALIBRATION_SEED, split: str = "train",
                   height: int = 64) -> list[tuple[str, np.ndarray]]:
    """The first `n` (text, uint8 image) of a split of the synthetic place names of `seed` (DHSD-like
    256 x `height` canvases; seed 0 is the names data the recognizer's recipe validates and tests on)."""
    from htr_lit.data.synth.samples import SPLITS, make_plan, make_sample
    from htr_lit.data.synth.spec import SyntheticSpec

    plan, _ = make_plan(SyntheticSpec(style="names", seed=seed, height=height))
    return [make_sample(plan, SPLITS[split], i)[::2] for i in range(n)]  # (text, image)


def calibration_batches(pre: Preprocess, n: int = CALIBRATION_IMAGES) -> list[dict[str, np.ndarray]]:
    """Rendered names preprocessed like inputs, batched by width as predict batches them."""
    from htr_lit.data.collate import pad_batch

    images = sorted((pre.normalize(pre.clean(img)) for _, img in rendered_names(n)), key=lambda im: im.shape[1])
    batches = []
    for start in range(0, len(images), CALIBRATION_BATCH):
        x, w = pad_batch(images[start : start + CALIBRATION_BATCH])
        batches.append({"images": x.numpy(), "widths": w.numpy()})
    return batches


def quantize_int8(fp32: Path, out: Path, pre: Preprocess) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration_batches(pre))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    prepared = out.with_name(out.name + ".pre.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(str(fp32), str(prepared))  # shape inference + graph clean-up, as ORT advises
            quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    finally:
        prepared.unlink(missing_ok=True)
