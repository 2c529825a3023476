"""Sequence models beyond the BiLSTM: weight sharing, receptive fields, padding, shapes, config checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from htr_lit.models.encoders import ConvEncoder, SeparableEncoder
from htr_lit.models.receptive_field import conv_stack_rf, total_rf, width_rf_and_jump
from htr_lit.models.sequence.bilstm import BiLSTM
from htr_lit.models.sequence.collapse import CollapseHeight
from htr_lit.models.sequence.dilated import DilatedConv
from htr_lit.models.sequence.tcn import TCN

SEQUENCE_CONF = Path(__file__).parents[1] / "conf" / "model" / "sequence"
SEQUENCES = sorted(p.stem for p in SEQUENCE_CONF.glob("*.yaml"))
SIMPLE_POOLS = [[2, 2], [2, 2], [2, 1], [2, 1], [2, 1]]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small_dilated(**kw) -> DilatedConv:
    args = dict(in_channels=6, in_height=2, channels=4, rates=[1, 2, 4], num_blocks=3, norm="batch")
    return DilatedConv(**{**args, **kw})


# --- weight sharing -------------------------------------------------------------------------------


def test_shared_kernels_are_the_same_modules_and_count_once():
    model = small_dilated(share_weights=True)
    assert model.num_layers == 9
    for i in range(3):
        assert model.convs[i] is model.convs[i + 3] is model.convs[i + 6]
        assert model.convs[i].weight is model.convs[i + 6].weight
    assert model.norms[0] is not model.norms[3]  # BN stays per layer
    one_block = 3 * (4 * 4 * 3 * 3)  # three 3x3 convs 4 -> 4, no bias before BatchNorm
    proj = 6 * 4  # 1x1 projection 6 -> 4 channels, no bias
    norms = 9 * 2 * 4  # 9 BatchNorms, weight + bias of 4 channels each
    assert n_params(model) == one_block + proj + norms


def test_unshared_kernels_count_per_block():
    model = small_dilated(share_weights=False)
    assert len({id(c) for c in model.convs}) == 9
    assert n_params(model) == 3 * 3 * (4 * 4 * 3 * 3) + 6 * 4 + 9 * 2 * 4
    conv_params = sum(n_params(c) for c in model.convs)
    assert conv_params == 3 * sum(n_params(c) for c in small_dilated(share_weights=True).convs[:3])


def test_no_projection_when_channels_match():
    assert isinstance(small_dilated(in_channels=4).proj, nn.Identity)
    assert isinstance(small_dilated(in_channels=2, dims="1d").proj, nn.Identity)  # 1d: C*H = 4 = channels


# --- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", ["2d", "1d"])
@pytest.mark.parametrize("concat", ["all", "last"])
def test_dilated_one_frame_per_column_and_output_size(dims, concat):
    model = small_dilated(dims=dims, concat=concat, num_blocks=2)
    y, lengths = model(torch.rand(2, 6, 2, 11), torch.tensor([11, 5]))
    layers = 6 if concat == "all" else 1
    height = 2 if dims == "2d" else 1
    assert model.output_size() == 4 * layers * height
    assert y.shape == (2, 11, model.output_size())
    assert lengths.tolist() == [11, 5]


def test_tcn_and_identity_shapes():
    tcn = TCN(in_channels=3, in_height=2, channels=5, rates=[1, 2], num_blocks=2)
    y, _ = tcn(torch.rand(2, 3, 2, 9), torch.tensor([9, 4]))
    assert y.shape == (2, 9, 5) == (2, 9, tcn.output_size())
    ident = CollapseHeight(in_channels=3, in_height=2)
    y, _ = ident(torch.rand(2, 3, 2, 9), torch.tensor([9, 4]))
    assert y.shape == (2, 9, 6) == (2, 9, ident.output_size()) and n_params(ident) == 0


def build_from_yaml(name: str, in_channels: int = 8, in_height: int = 2) -> nn.Module:
    return instantiate(OmegaConf.load(SEQUENCE_CONF / f"{name}.yaml"))(in_channels=in_channels, in_height=in_height)


@pytest.mark.parametrize("name", SEQUENCES)
def test_every_config_ignores_padding_and_keeps_lengths(name):
    """A sequence alone == the same sequence padded with garbage in a batch (eval); zeros past its length."""
    torch.manual_seed(0)
    model = build_from_yaml(name).eval()
    feats = torch.rand(1, 8, 2, 10)
    alone, _ = model(feats, torch.tensor([10]))
    other = torch.rand(1, 8, 2, 16)
    padded = torch.cat([torch.cat([feats, 100 * torch.rand(1, 8, 2, 6)], dim=-1), other])  # (2, 8, 2, 16)
    lengths = torch.tensor([10, 16])
    out, out_lengths = model(padded, lengths)
    assert out.shape == (2, 16, model.output_size())
    assert out_lengths.tolist() == [10, 16]
    assert torch.allclose(alone[0], out[0, :10], atol=1e-5)
    assert out[0, 10:].abs().max() == 0


# --- receptive field ----------------------------------------------------------------------------


def positive_linear_(model: nn.Module) -> nn.Module:
    """Positive weights on a positive input keep every ReLU active: a linear net whose gradient is
    nonzero exactly where an input can influence the output (robust empirical receptive field)."""
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.1, 1.0)
    return model.eval()


def impulse_columns(model: nn.Module, in_channels: int, in_height: int, width: int) -> tuple[int, int]:
    """(columns with a nonzero gradient, their span) for the middle output frame."""
    x = torch.rand(1, in_channels, in_height, width, requires_grad=True)
    y, _ = model(x, torch.tensor([width]))
    y[0, width // 2].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    return len(cols), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    "kw",
    [
        {},  # 2d, rates [1, 2, 4] x 3 blocks, shared
        {"dims": "1d", "num_blocks": 2},
        {"kernel_size": 5, "rates": [1, 3], "num_blocks": 1, "share_weights": False},
        {"residual": True, "concat": "last", "activation": "gelu"},
    ],
)
def test_dilated_receptive_field_analytic_and_empirical(kw):
    model = positive_linear_(small_dilated(norm="none", **kw))
    k, rates = model.kernel_size, model.rates * model.num_blocks
    expected = 1 + sum((k - 1) * r for r in rates)
    assert model.receptive_field_frames() == expected == conv_stack_rf([k] * len(rates), rates)
    assert impulse_columns(model, 6, 2, 2 * expected + 1) == (expected, expected)


def test_gridding_rates_leave_holes_inside_the_receptive_field():
    """Rates [2, 4] only reach even offsets: the span is the analytic RF, but half of it is never seen."""
    model = positive_linear_(small_dilated(norm="none", rates=[2, 4], num_blocks=1))
    assert model.receptive_field_frames() == 13
    assert impulse_columns(model, 6, 2, 27) == (7, 13)


def test_tcn_and_identity_receptive_fields():
    tcn = positive_linear_(TCN(in_channels=3, in_height=2, channels=4, rates=[1, 2, 4], num_blocks=2, norm="none"))
    assert tcn.receptive_field_frames() == 1 + 2 * 2 * 7 == 29
    assert impulse_columns(tcn, 3, 2, 59) == (29, 29)
    collapse = CollapseHeight(3, 2).eval()
    assert impulse_columns(collapse, 3, 2, 9) == (1, 1) and collapse.receptive_field_frames() == 1


def test_encoder_receptive_field_in_pixels():
    """simple encoder along width: 5 convs k3, width pools 2, 2, 1, 1, 1. By hand (rf, jump):
    conv (3, 1), pool (4, 2), conv (8, 2), pool (10, 4), then 3 convs +8 each -> 34 pixels, jump 4."""
    enc = ConvEncoder(64, [2] * 5, [3] * 5, SIMPLE_POOLS)
    assert width_rf_and_jump(enc.modules()) == (34, 4)
    # Empirically: with average pools (same window as max pools) the net is linear on positive weights.
    for i, m in enumerate(enc.net):
        if isinstance(m, nn.MaxPool2d):
            enc.net[i] = nn.AvgPool2d(m.kernel_size, m.stride)
    positive_linear_(enc)
    x = torch.rand(1, 1, 64, 128, requires_grad=True)
    enc(x, torch.tensor([128]))[0][0, :, :, 16].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    assert len(cols) == int(cols.max() - cols.min() + 1) == 34


def test_separable_encoder_receptive_field_in_pixels():
    """separable encoder along width: stride-2 stem k3 (3, 2), depthwise k3 stride 2 (3 + 2*2 = 7, 4), three
    depthwise k3 at jump 4 (+8 each: 31), one more at stride 1 (39); the pointwise 1x1 convs add nothing."""
    enc = SeparableEncoder(64, [2] * 6, [*SIMPLE_POOLS, [1, 1]])
    assert width_rf_and_jump(enc.modules()) == (39, 4)
    positive_linear_(enc)
    x = torch.rand(1, 1, 64, 160, requires_grad=True)
    enc(x, torch.tensor([160]))[0][0, :, :, 20].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    assert len(cols) == int(cols.max() - cols.min() + 1) == 39
    # centred on px 80, the first of frame 20's 4 px (80..83): a strided window is centred on the first pixel of its
    # stride cell (compact's pooled windows are centred on the cell: 65..98)
    assert (int(cols.min()), int(cols.max())) == (80 - 19, 80 + 19)


def test_total_receptive_field():
    enc = ConvEncoder(64, [2] * 5, [3] * 5, SIMPLE_POOLS)
    dilated = DilatedConv(in_channels=2, in_height=2, channels=4)  # reference: 1 + 2 * 2 * (1 + 2 + 4) = 29
    assert total_rf(enc, dilated) == {"frames": 29, "pixels": 34 + 28 * enc.width_factor}
    assert total_rf(enc, CollapseHeight(2, 2)) == {"frames": 1, "pixels": 34}
    assert total_rf(enc, BiLSTM(2, 2, hidden_size=4)) == {"frames": None, "pixels": None}  # whole word


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rates": []}, "rates must be a non-empty list"),
        ({"rates": [1, 0]}, "rates must be a non-empty list of ints >= 1"),
        ({"rates": [2, -1]}, "rates must be a non-empty list of ints >= 1"),
        ({"num_blocks": 0}, "num_blocks must be >= 1"),
        ({"kernel_size": 4}, "kernel_size must be odd"),
        ({"concat": "sum"}, "concat must be 'all' or 'last'"),
        ({"norm": "group"}, r"norm must be one of \('batch', 'layer', 'none'\)"),
        ({"activation": "tanh"}, r"activation must be one of \('relu', 'gelu'\)"),
        ({"dims": "3d"}, "dims must be '2d'"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_dilated_rejects_bad_config(kw, match):
    with pytest.raises(ValueError, match=f"^dilated: {match}"):
        small_dilated(**kw)


@pytest.mark.parametrize("kw", [{"rates": []}, {"num_blocks": 0}, {"kernel_size": 2}, {"norm": "weird"}])
def test_tcn_rejects_bad_config(kw):
    with pytest.raises(ValueError, match="^tcn: "):
        TCN(in_channels=3, in_height=2, **kw)
