"""The onnxruntime backend: the checkpoint exported once with `htr_lit.export` (dynamic batch and width),
cached by the checkpoint's sha256, optionally int8-quantized (`quantize.py`), run on the CPU provider."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from htr_lit.errors import UserError
from htr_lit.inference.onnx_export import ATOL, example_batch, export_onnx, max_abs_diff

if TYPE_CHECKING:
    from htr_lit.data.preprocess import Preprocess
    from htr_lit.models.module import HTRModule

# Part of the cache key: bump when the exported graph or the quantization recipe changes.
CACHE_VERSION = 1
OPSET = 17


class MissingExtraError(UserError, ImportError):
    """backend=onnx without onnx / onnxruntime installed."""


def require_onnxruntime() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise MissingExtraError(
            f"backend=onnx needs onnx and onnxruntime ({e}): pip install htr-lit[export]") from e


def default_cache_dir() -> Path:
    """$HTR_LIT_CACHE, else $XDG_CACHE_HOME/htr-lit (~/.cache/htr-lit), + /onnx."""
    if os.environ.get("HTR_LIT_CACHE"):
        return Path(os.environ["HTR_LIT_CACHE"]) / "onnx"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "htr-lit" / "onnx"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` then rename: a parallel run or a killed one never leaves a half-written model in the cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".onnx")  # run_exported reads the suffix
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is as readable as the checkpoint
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _export_checked(model: HTRModule, pre: Preprocess, out: Path) -> None:
    export_onnx(model, pre, out, opset=OPSET)
    diff = max_abs_diff(model, out, *example_batch(pre, widths=(48, 200), seed=1))
    if not diff <= ATOL:  # also catches NaN
        raise RuntimeError(f"{out}: exported model differs from PyTorch by {diff:.2e} (> {ATOL:g})")


def cached_onnx(model: HTRModule, pre: Preprocess, ckpt_path: Path, cache_dir: str | Path | None = None,
                int8: bool = False) -> Path:
    """The checkpoint's ONNX model (int8: quantized) in the cache, exported / quantized on first use."""
    require_onnxruntime()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = f"{file_sha256(ckpt_path)[:24]}-v{CACHE_VERSION}-opset{OPSET}"
    fp32 = cache / f"{key}.onnx"
    if not fp32.is_file():
        _write_atomic(fp32, lambda tmp: _export_checked(model, pre, tmp))
    if not int8:
        return fp32
    q = cache / f"{key}.int8.onnx"
    if not q.is_file():
        from htr_lit.inference.quantize import quantize_int8

        _write_atomic(q, lambda tmp: quantize_int8(fp32, tmp, pre))
    return q


class OnnxBackend:
    """An onnxruntime session on `threads` intra-op threads (one inter-op thread: the graph is a chain).
    Its threads sleep instead of spinning between ops (~5 % faster on a shared 2-core machine) and its batches
    hold 16 images: end to end 1.09x batch 8 and 1.15x batch 32 on the compact recognizer, 1.09x and 1.11x on
    the separable one (`python -m htr_lit.measuring.bench_predict --batch-size 8|16|32`, 2026-12-06)."""

    batch_size = 16

    def __init__(self, path: Path, threads: int = 1) -> None:
        require_onnxruntime()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.name = "onnx-int8" if path.name.endswith(".int8.onnx") else "onnx"
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feed = {"images": images.numpy(), "widths": widths.to(torch.int64).numpy()}
        log_probs, lengths = self.session.run(["log_probs", "lengths"], feed)
        return torch.from_numpy(log_probs), torch.from_numpy(lengths)  # (B, T, C), (B,)
