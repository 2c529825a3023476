"""The backend interface and the factory that picks one from predict's `backend=` / `int8=` keys."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch

from htr_lit.errors import ConfigError

log = logging.getLogger("htr_lit.predict")

if TYPE_CHECKING:
    from htr_lit.data.preprocess import Preprocess
    from htr_lit.models.module import HTRModule

BACKENDS = ("auto", "torch", "onnx")


class Backend(Protocol):
    """images (B, 1, H, W) float32 (ink 1, paper 0, right-padded with 0), widths (B,) int64
    -> log_probs (B, T, C) log-softmax with the CTC blank at 0, lengths (B,) valid frames: what decoders take."""

    name: str
    batch_size: int  # images per batch when predict's batch_size is null: the fastest measured for it

    def run(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


def build_backend(backend: str, model: HTRModule, pre: Preprocess, ckpt_path: str | Path, *, int8: bool = False,
                  threads: int | None = None, device: str = "cpu", cache_dir: str | Path | None = None) -> Backend:
    """`backend=torch` runs the model as loaded; `backend=onnx` exports the checkpoint once (cached by its
    sha256 in `cache_dir`), with `int8=true` quantized, and runs it with onnxruntime on `threads` threads;
    `backend=auto` (predict's default) is onnx on the CPU when onnxruntime is installed, else torch, and
    falls back to torch with a warning if the export fails (an operator ONNX lacks, a read-only cache)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend}: choose {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    check_device(device)
    threads = int(threads or torch.get_num_threads())
    ckpt_path = Path(ckpt_path).expanduser()
    if backend == "auto":
        if int8:  # quantization is onnxruntime's: asked for, it is not silently dropped
            backend = "onnx"
        elif device == "cpu" and onnx_installed():
            return _onnx_or_torch(model, pre, ckpt_path, cache_dir, threads)
        else:
            backend = "torch"
    if backend == "torch":
        if int8:
            raise ConfigError("int8=true needs backend=onnx (onnxruntime quantization)")
        from htr_lit.inference.torch_backend import TorchBackend

        return TorchBackend(model, device=device)
    if device != "cpu":
        raise ConfigError(f"backend=onnx runs on the CPU (onnxruntime CPU provider); drop device={device}")
    from htr_lit.inference.onnx_backend import OnnxBackend, cached_onnx

    return OnnxBackend(cached_onnx(model, pre, ckpt_path, cache_dir, int8=int8), threads=threads)


def onnx_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def _onnx_or_torch(model: HTRModule, pre: Preprocess, ckpt_path: Path, cache_dir: str | Path | None,
                   threads: int) -> Backend:
    try:
        return build_backend("onnx", model, pre, ckpt_path, threads=threads, cache_dir=cache_dir)
    except Exception as err:  # noqa: BLE001 - any export / session failure leaves the torch path
        log.warning("backend=auto: ONNX is not usable for %s (%s: %s); running it with torch (backend=torch "
                    "skips this try)", ckpt_path, type(err).__name__, err)
        return build_backend("torch", model, pre, ckpt_path, threads=threads)


def check_device(device: str) -> None:
    """A device this machine has: `cpu`, `cuda`, `cuda:N` with N GPUs visible, `mps` on Apple silicon."""
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"device={device}: not a torch device (cpu, cuda, cuda:N, mps)") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device}: this torch sees no CUDA GPU (torch.cuda.is_available() is False); "
                          "use device=cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device={device}: MPS is not available on this machine; use device=cpu")
