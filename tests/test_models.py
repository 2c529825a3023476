"""Every encoder x sequence option: shapes, lengths, and a gradient for every parameter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from htr_lit.charset import min_ctc_frames
from htr_lit.models.encoders import ConvEncoder, SeparableEncoder
from htr_lit.models.sequence.bilstm import BiLSTM
from tests.helpers import compose_cfg

CONF = Path(__file__).parents[1] / "conf" / "model"
ENCODERS = sorted(p.stem for p in (CONF / "encoder").glob("*.yaml"))
SEQUENCES = sorted(p.stem for p in (CONF / "sequence").glob("*.yaml"))
CHARSET = list("abcdefgh")


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_forward_backward_every_parameter_gets_gradient(tmp_path, encoder, sequence):
    cfg = compose_cfg("train", [f"model/encoder={encoder}", f"model/sequence={sequence}"], tmp_path)
    model = instantiate(cfg.model, charset=CHARSET)
    B, H = 3, cfg.data.img_height
    widths = torch.tensor([128, 96, 40])
    images = torch.rand(B, 1, H, 128)
    log_probs, lengths = model(images, widths)
    assert log_probs.shape == (B, 128 // 4, len(CHARSET) + 1)
    assert lengths.tolist() == [32, 24, 10]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(B, 32), atol=1e-4)
    targets = torch.tensor([1, 2, 3, 4, 5, 6, 1, 1])
    loss = model.criterion(log_probs, lengths, targets, torch.tensor([3, 3, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no/invalid gradient: {missing}"
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_prediction_does_not_depend_on_the_batch(tmp_path, encoder, sequence):
    """An image's log-probs alone equal its log-probs padded into a batch of wider images (eval mode):
    the encoder zeroes padding after every layer, the sequence models mask or pack it away."""
    torch.manual_seed(0)
    cfg = compose_cfg("train", [f"model/encoder={encoder}", f"model/sequence={sequence}"], tmp_path)
    model = instantiate(cfg.model, charset=CHARSET)
    for m in model.modules():  # non-trivial BatchNorm statistics, so that padding would turn non-zero
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.bias.data.uniform_(0.5, 1.0)
    model.eval()
    H = cfg.data.img_height
    image = torch.rand(1, 1, H, 75)  # odd width: the poolings' floor must match too
    batch = torch.zeros(3, 1, H, 160)
    batch[0] = torch.rand(1, H, 160)
    batch[1, :, :, :75] = image[0]
    batch[2, :, :, :40] = torch.rand(1, H, 40)
    with torch.no_grad():
        alone, n_alone = model(image, torch.tensor([75]))
        padded, n_padded = model(batch, torch.tensor([160, 75, 40]))
    T = int(n_alone[0])
    assert T == int(n_padded[1]) == 75 // 4
    assert torch.allclose(alone[0, :T], padded[1, :T], atol=1e-5)


def test_bilstm_ignores_frames_past_length():
    """Packing: garbage in padded frames must not leak into a sequence's valid outputs."""
    torch.manual_seed(0)
    lstm = BiLSTM(in_channels=4, in_height=2, hidden_size=8).eval()
    feats = torch.rand(1, 4, 2, 10)
    alone, _ = lstm(feats, torch.tensor([10]))
    padded = torch.cat([feats, 100 * torch.rand(1, 4, 2, 6)], dim=-1)
    out, lengths = lstm(padded, torch.tensor([10]))
    assert out.shape == (1, 16, 16) and lengths.tolist() == [10]
    assert torch.allclose(alone, out[:, :10], atol=1e-6)
    assert out[:, 10:].abs().max() == 0


def test_encoder_rejects_height_it_cannot_pool():
    with pytest.raises(ValueError, match="multiple of 32"):
        ConvEncoder(48, [4] * 5, [3] * 5, [[2, 2], [2, 2], [2, 1], [2, 1], [2, 1]])


def test_encoder_frames_and_min_width():
    enc = ConvEncoder(64, [4] * 5, [3] * 5, [[2, 2], [2, 2], [2, 1], [2, 1], [2, 1]])
    assert enc.min_width == 4 and enc.output_height == 2 and enc.output_channels == 4
    assert enc.frames(torch.tensor([4, 7, 8, 255])).tolist() == [1, 1, 2, 63]


def test_separable_encoder_has_compacts_output_and_frames(tmp_path):
    """model/encoder=separable swaps in for compact: same channels x height, one frame per 4 px (CTC frames and
    the data module's feasibility check unchanged), same map width alone or padded, far fewer parameters."""
    compact, sep = (instantiate(compose_cfg("train", [f"model/encoder={e}"], tmp_path).model.encoder).eval()
                    for e in ("compact", "separable"))
    assert isinstance(sep, SeparableEncoder) and isinstance(compact, ConvEncoder)
    shape = (sep.output_channels, sep.output_height, sep.min_width)
    assert shape == (compact.output_channels, compact.output_height, compact.min_width) == (128, 2, 4)
    widths = torch.tensor([4, 7, 75, 129, 255, 256])
    assert sep.frames(widths).tolist() == compact.frames(widths).tolist() == [1, 1, 18, 32, 63, 64]
    with torch.no_grad():
        ys, ns = sep(torch.rand(6, 1, 64, 256), widths)
        assert ys.shape == (6, 128, 2, 64) and ns.tolist() == [1, 1, 18, 32, 63, 64]
        for w in (5, 75, 129):  # an image alone: as many columns as compact's pools leave (floor, not ceil)
            x = torch.rand(1, 1, 64, w)
            assert sep(x, torch.tensor([w]))[0].shape == compact(x, torch.tensor([w]))[0].shape == (1, 128, 2, w // 4)
    assert sum(p.numel() for p in sep.parameters()) * 3 < sum(p.numel() for p in compact.parameters())
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in sep.modules())


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kernel_size": 4}, "kernel_size 4 must be odd"),
        ({"kernel_size": 1}, "kernel_size 1 must be odd and >= 2 \\* stride - 1"),
        ({"channels": [4] * 4}, r"channels \(4\), strides \(5\) must have one entry per layer"),
        ({"in_height": 48}, "multiple of 32"),
        ({"height_pool": "mean"}, "height_pool='mean'"),
    ],
)
def test_separable_encoder_rejects_bad_settings(kw, match):
    args = {"in_height": 64, "channels": [4] * 5, "strides": [[2, 2], [2, 2], [2, 1], [2, 1], [2, 1]], **kw}
    with pytest.raises(ValueError, match=match):
        SeparableEncoder(**args)


@pytest.mark.parametrize(("label", "frames"), [("ab", 2), ("aa", 3), ("aab", 4), ("abba", 5), ("", 0)])
def test_min_ctc_frames(label, frames):
    assert min_ctc_frames(label) == frames


@pytest.mark.slow
def test_data_module_does_not_import_the_models():
    """min_ctc_frames is a property of a label (htr_lit.charset): loading data needs no model code."""
    code = (
        "import sys, htr_lit.data.datamodule; print(sorted(m for m in sys.modules if m.startswith('htr_lit.models')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
