"""Export a model to ONNX or TorchScript, and check the exported file against PyTorch: what the export CLI
(`htr_lit.export`) and the ONNX backend's cache (`onnx_backend.cached_onnx`) share. Inputs: images (B, 1, H, W)
float32 (ink 1, paper 0, right-padded with 0) and widths (B,) int64; outputs: log_probs (B, T, C) and lengths (B,),
with the batch and width dynamic."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from htr_lit.data.preprocess import Preprocess
from htr_lit.models.exportable import ExportModel
from htr_lit.models.module import HTRModule

INPUTS, OUTPUTS = ["images", "widths"], ["log_probs", "lengths"]
DYNAMIC_AXES = {
    "images": {0: "batch", 3: "width"},
    "widths": {0: "batch"},
    "log_probs": {0: "batch", 1: "frames"},
    "lengths": {0: "batch"},
}
# Exported vs PyTorch log-probabilities on valid frames (float32; measured ~1e-6 on the tiny test models).
ATOL = 1e-4


def example_batch(
    pre: Preprocess, widths: tuple[int, ...] = (64, 160, 96), seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random right-padded batch of several widths, like `collate` builds: images (B, 1, H, W), widths (B,)."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.tensor(widths, dtype=torch.int64)
    images = torch.rand(len(widths), 1, pre.img_height, int(w.max()), generator=gen)  # (B, 1, H, W)
    images *= (torch.arange(images.shape[-1]) < w[:, None])[:, None, None, :]  # paper (0) past each width
    return images, w


def export_onnx(model: HTRModule, pre: Preprocess, output: Path, opset: int = 17) -> None:
    """TorchScript-based ONNX exporter with dynamic batch/width axes (fast, no onnxscript needed)."""
    images, widths = example_batch(pre)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic: checked by `check_export`
        torch.onnx.export(
            ExportModel(model),
            (images, widths),
            str(output),
            input_names=INPUTS,
            output_names=OUTPUTS,
            dynamic_axes=DYNAMIC_AXES,
            opset_version=opset,
            dynamo=False,
        )


def export_torchscript(model: HTRModule, pre: Preprocess, output: Path) -> None:
    images, widths = example_batch(pre)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(ExportModel(model), (images, widths), check_trace=False)
    traced.save(str(output))


def run_exported(path: Path, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run an exported model (onnxruntime for .onnx, torch.jit for .pt) -> log_probs, lengths."""
    if path.suffix == ".onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        lp, lengths = session.run(OUTPUTS, {"images": images.numpy(), "widths": widths.numpy()})
        return torch.from_numpy(lp), torch.from_numpy(lengths)
    with torch.no_grad():
        lp, lengths = torch.jit.load(str(path))(images, widths)
    return lp, lengths


def max_abs_diff(model: HTRModule, path: Path, images: torch.Tensor, widths: torch.Tensor) -> float:
    """Largest |exported - PyTorch| log-probability over the valid frames of a batch."""
    with torch.no_grad():
        ref, ref_len = model(images, widths)
    out, out_len = run_exported(path, images, widths)
    if not torch.equal(ref_len, out_len):
        raise RuntimeError(f"{path}: frame lengths differ from PyTorch: {out_len.tolist()} vs {ref_len.tolist()}")
    valid = torch.arange(ref.shape[1])[None, :] < ref_len[:, None]  # (B, T)
    return float((ref - out).abs()[valid].max())
