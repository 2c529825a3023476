"""Export: ONNX (onnxruntime) and TorchScript give PyTorch's decoded text and logits, at any batch and width."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from htr_lit.checkpoint import load_model
from htr_lit.data.collate import collate
from htr_lit.data.preprocess import to_tensor
from htr_lit.decoding.greedy import GreedyDecoder
from htr_lit.export import export
from htr_lit.inference.onnx_export import ATOL, run_exported
from tests.helpers import compose_cfg
from tests.tiny_ckpt import word_images

pytest.importorskip("onnxruntime")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ckpts(tiny_checkpoint) -> dict[str, Path]:
    return {seq: tiny_checkpoint(seq) for seq in ("bilstm", "dilated")}


@pytest.fixture(scope="module")
def words(tmp_path_factory) -> list[Path]:
    return word_images(tmp_path_factory.mktemp("words"))


def batch_of(paths: list[Path], pre) -> tuple[torch.Tensor, torch.Tensor]:
    b = collate([{"image": to_tensor(pre.load(p)), "target": [], "text": "", "id": ""} for p in paths])
    return b["images"], b["widths"]


def compose_export(overrides: list[str]):
    """conf/export.yaml composed as the CLI does (it has no `paths` group, unlike compose_cfg's configs)."""
    return compose_cfg("export", overrides)


def do_export(ckpt: Path, fmt: str, out: Path) -> Path:
    cfg = compose_export([f"ckpt_path={ckpt}", f"format={fmt}", f"output={out}"])
    path, diff = export(cfg)
    assert diff <= ATOL
    return path


def assert_parity(ckpt: Path, exported: Path, words: list[Path]) -> None:
    """Mixed widths in one batch and each image alone: same greedy text, log-probs within ATOL."""
    model, pre = load_model(ckpt)
    greedy = GreedyDecoder(model.charset.tokens)
    images, widths = batch_of(words, pre)
    assert len(set(widths.tolist())) >= 4  # really several widths, padded in one batch
    with torch.no_grad():
        ref, ref_len = model(images, widths)
    expected = [h[0].text for h in greedy(ref, ref_len)]
    assert any(expected), "the tiny model should emit some characters"
    out, out_len = run_exported(exported, images, widths)
    assert torch.equal(out_len, ref_len)
    valid = torch.arange(ref.shape[1])[None, :] < ref_len[:, None]
    assert (out - ref).abs()[valid].max() <= ATOL
    assert [h[0].text for h in greedy(out, out_len)] == expected
    for path in words:  # one image alone: no padding at all (the CNN's BatchNorm makes padding non-zero
        img, w = batch_of([path], pre)  # after layer 1, so the text alone may differ from the batch's)
        with torch.no_grad():
            alone = [h[0].text for h in greedy(*model(img, w))]
        single, single_len = run_exported(exported, img, w)
        assert [h[0].text for h in greedy(single, single_len)] == alone


@pytest.mark.parametrize("sequence", ["bilstm", "dilated"])
def test_onnx_matches_pytorch_on_mixed_widths(ckpts, words, tmp_path, sequence):
    exported = do_export(ckpts[sequence], "onnx", tmp_path / "model.onnx")
    assert_parity(ckpts[sequence], exported, words)
    meta = json.loads((tmp_path / "model.onnx.json").read_text(encoding="utf-8"))
    model, pre = load_model(ckpts[sequence])
    assert meta["tokens"] == model.charset.tokens and meta["preprocess"] == pre.to_dict()


def test_torchscript_matches_pytorch_on_mixed_widths(ckpts, words, tmp_path):
    exported = do_export(ckpts["bilstm"], "torchscript", tmp_path / "model.pt")
    assert_parity(ckpts["bilstm"], exported, words)


@pytest.mark.parametrize("sequence", ["tcn", "cnn_only"])
@pytest.mark.slow  # two more tiny checkpoints to train
def test_onnx_export_of_other_sequence_models(tmp_path, words, sequence, tiny_checkpoint):
    ckpt = tiny_checkpoint(sequence)
    model, pre = load_model(ckpt)
    exported = do_export(ckpt, "onnx", tmp_path / "m.onnx")
    images, widths = batch_of(words[:4], pre)
    with torch.no_grad():
        ref, ref_len = model(images, widths)
    out, out_len = run_exported(exported, images, widths)
    valid = torch.arange(ref.shape[1])[None, :] < ref_len[:, None]
    assert torch.equal(out_len, ref_len) and (out - ref).abs()[valid].max() <= ATOL


@pytest.mark.parametrize("sequence", ["bilstm", "dilated"])
@pytest.mark.slow  # two more tiny checkpoints to train
def test_onnx_export_of_the_separable_encoder(tmp_path, words, sequence, tiny_checkpoint):
    """model/encoder=separable (strided depthwise convs, asymmetric padding) exports with the same parity."""
    ckpt = tiny_checkpoint(sequence, "model/encoder=separable")
    model, _ = load_model(ckpt)
    assert type(model.encoder).__name__ == "SeparableEncoder"
    assert_parity(ckpt, do_export(ckpt, "onnx", tmp_path / "m.onnx"), words)


@pytest.mark.slow
def test_onnx_export_cli_and_bad_checkpoint(ckpts, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "htr_lit.export"]
    out = tmp_path / "cli.onnx"
    proc = subprocess.run([*run, f"ckpt_path={ckpts['dilated']}", f"output={out}"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {out}" in proc.stdout and "(ok)" in proc.stdout and out.is_file()
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    proc = subprocess.run([*run, f"ckpt_path={tmp_path / 'junk.ckpt'}"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1 and "junk.ckpt: not a PyTorch checkpoint" in proc.stderr
    assert "Traceback" not in proc.stderr
