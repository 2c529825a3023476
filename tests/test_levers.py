"""Recipe levers, each off by default: the CTC shortcut head (model.shortcut_weight), column max pooling
(model.encoder.height_pool=max), an EMA of the weights (callbacks=ema), data.augment=handwriting."""

from __future__ import annotations

import csv
from pathlib import Path

import albumentations as A
import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from htr_lit.checkpoint import load_model, read_checkpoint
from htr_lit.data.augment import build_augment
from htr_lit.export import ATOL, export
from htr_lit.models.shortcut import CTCShortcut
from htr_lit.runs.callbacks import AtomicModelCheckpoint
from htr_lit.runs.ema import EMAWeights
from htr_lit.train import train
from tests.helpers import TINY, compose_cfg, csv_data, write_writer_labels

CONF = Path(__file__).parents[1] / "conf" / "model"
ENCODERS = sorted(p.stem for p in (CONF / "encoder").glob("*.yaml"))
SEQUENCES = sorted(p.stem for p in (CONF / "sequence").glob("*.yaml"))
CHARSET = list("abcdefgh")


def tiny_model(tmp_path: Path, *overrides: str):
    cfg = compose_cfg("train", [*TINY, *overrides], tmp_path)
    return instantiate(cfg.model, charset=CHARSET), cfg.data.img_height


def word_batch(height: int) -> dict:
    widths = torch.tensor([128, 96, 40])
    return {"images": torch.rand(3, 1, height, 128), "widths": widths, "texts": ["abc", "def", "aa"],
            "ids": ["a", "b", "c"], "targets": torch.tensor([1, 2, 3, 4, 5, 6, 1, 1]),
            "target_lengths": torch.tensor([3, 3, 2])}


# --- shortcut head and column max pooling, over every encoder x sequence option (tiny widths) ---------------

@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize("height_pool", ["none", "max"])
def test_levers_train_a_step_with_every_option(tmp_path, one_thread, encoder, sequence, height_pool):
    """Shortcut on (+ column max pooling or not): the training loss is main CTC + 0.1 x shortcut CTC,
    every parameter (the shortcut's too) gets a finite, non-zero gradient, and forward is unchanged in form."""
    torch.manual_seed(0)
    model, H = tiny_model(tmp_path, f"model/encoder={encoder}", f"model/sequence={sequence}",
                          "model.shortcut_weight=0.1", f"model.encoder.height_pool={height_pool}")
    assert model.encoder.output_height == (1 if height_pool == "max" else H // model.encoder.height_factor)
    model.train()
    batch = word_batch(H)
    torch.manual_seed(1)  # the same dropout masks for the step and the hand-computed parts
    loss = model.training_step(batch, 0)
    torch.manual_seed(1)
    feats, frames = model.encoder(batch["images"], batch["widths"])
    if height_pool == "max":
        assert feats.shape[2] == 1
    log_probs, lengths = model._decode_features(feats, frames)
    args = (batch["targets"], batch["target_lengths"])
    expected = model.criterion(log_probs, lengths, *args) + 0.1 * model.criterion(model.shortcut(feats), frames, *args)
    assert torch.isfinite(loss) and torch.allclose(loss, expected, atol=1e-5)
    loss.backward()
    bad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
           or p.grad.abs().sum() == 0]
    assert not bad, f"no/invalid gradient: {bad}"
    assert any(n.startswith("shortcut.") for n, _ in model.named_parameters())
    model.eval()
    with torch.no_grad():
        out, n = model(batch["images"], batch["widths"])
    assert out.shape == (3, 32, len(CHARSET) + 1) and n.tolist() == [32, 24, 10]


def test_shortcut_off_creates_nothing_and_old_checkpoints_load(tmp_path):
    """shortcut_weight=0 (the default): no parameters and no state_dict keys, so a model without the
    option (any stored checkpoint) loads strictly; when on, only `shortcut.*` keys are added."""
    torch.manual_seed(0)
    off, _ = tiny_model(tmp_path)
    assert off.hparams.shortcut_weight == 0.0 and off.shortcut is None
    assert not [k for k in off.state_dict() if k.startswith("shortcut")]
    on, _ = tiny_model(tmp_path, "model.shortcut_weight=0.1")
    extra = set(on.state_dict()) - set(off.state_dict())
    assert extra == {"shortcut.conv.weight", "shortcut.conv.bias"} and set(off.state_dict()) <= set(on.state_dict())
    fresh, _ = tiny_model(tmp_path)
    fresh.load_state_dict(off.state_dict())  # strict


def test_shortcut_is_not_in_inference(tmp_path):
    """forward (decoding, eval, export) is the same function of the shared weights with the shortcut on or off."""
    torch.manual_seed(0)
    on, H = tiny_model(tmp_path, "model.shortcut_weight=0.1")
    off, _ = tiny_model(tmp_path)
    off.load_state_dict({k: v for k, v in on.state_dict().items() if not k.startswith("shortcut.")})
    on.eval()
    off.eval()
    batch = word_batch(H)
    with torch.no_grad():
        assert torch.equal(on(batch["images"], batch["widths"])[0], off(batch["images"], batch["widths"])[0])


def test_shortcut_head_shapes_and_batch_independence():
    """Max over the height then a k=3 conv: (B, C, H, T) -> (B, T, classes) log-probs; a short image's
    frames do not see the zero-padded columns of a batch any differently from its own edge."""
    torch.manual_seed(0)
    head = CTCShortcut(in_channels=4, num_classes=5)
    feats = torch.rand(2, 4, 3, 10)
    feats[1, :, :, 6:] = 0  # the encoder zeroes columns past an image's width
    out = head(feats)
    assert out.shape == (2, 10, 5) and torch.allclose(out.exp().sum(-1), torch.ones(2, 10), atol=1e-5)
    alone = head(feats[1:, :, :, :6])
    assert torch.allclose(alone[0], out[1, :6], atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        CTCShortcut(4, 5, kernel_size=2)


def test_negative_shortcut_weight_and_unknown_height_pool_are_errors(tmp_path):
    with pytest.raises(Exception, match="shortcut_weight"):
        tiny_model(tmp_path, "model.shortcut_weight=-0.1")
    with pytest.raises(Exception, match="height_pool"):
        tiny_model(tmp_path, "model.encoder.height_pool=mean")


def test_height_pool_max_is_the_column_max_of_the_feature_map(tmp_path):
    torch.manual_seed(0)
    flat, H = tiny_model(tmp_path)
    pooled, _ = tiny_model(tmp_path, "model.encoder.height_pool=max")
    pooled.encoder.load_state_dict(flat.encoder.state_dict())  # no new weights: same keys
    flat.eval()
    pooled.eval()
    images, widths = torch.rand(2, 1, H, 64), torch.tensor([64, 30])
    with torch.no_grad():
        full, n_full = flat.encoder(images, widths)
        col, n_col = pooled.encoder(images, widths)
    assert torch.equal(col, full.amax(dim=2, keepdim=True)) and torch.equal(n_col, n_full)


# --- EMA of the weights ---------------------------------------------------------------------------------------

class Toy(L.LightningModule):
    """Linear + BatchNorm (a buffer to average too), trained on fixed random data with SGD."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        self.seen: list[torch.Tensor] = []  # first weight at each validation batch

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        self.seen.append(self.net[0].weight.detach().clone())

    def test_step(self, batch, batch_idx):
        self.seen.append(self.net[0].weight.detach().clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Recorder(L.Callback):
    """The raw weights (parameters and float buffers) after every optimizer step."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.states.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})


def loader(n: int = 4) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(4 * n, 3, generator=g), torch.randn(4 * n, 1, generator=g))
    return torch.utils.data.DataLoader(data, batch_size=4)


def ema_by_hand(states: list[dict[str, torch.Tensor]], decay: float) -> dict[str, torch.Tensor]:
    """ema_1 = w_1; ema_t = decay * ema_{t-1} + (1 - decay) * w_t (floats; counters are not averaged)."""
    ema = dict(states[0])
    for s in states[1:]:
        ema = {k: decay * ema[k] + (1 - decay) * s[k] if s[k].is_floating_point() else ema[k] for k in s}
    return ema


@pytest.mark.train
def test_ema_checkpoints_hold_the_hand_computed_average_and_validate_scores_them(tmp_path, one_thread):
    """After 2 and 4 steps the checkpoints' state_dict is the EMA of the weights after each step (the raw
    ones in current_model_state); after fit the model holds the last EMA; validate(ckpt_path=step 2) scores
    that checkpoint's EMA, and so does test(ckpt_path=step 2) (Lightning's stock callback reloads the raw
    weights from current_model_state there: htr_lit.train would report test/cer of the raw weights)."""
    torch.manual_seed(0)
    decay, model, rec = 0.6, Toy(), Recorder()
    ckpt = AtomicModelCheckpoint(dirpath=tmp_path, filename="s{step}", every_n_train_steps=2, save_top_k=-1,
                                 auto_insert_metric_name=False, enable_version_counter=False)
    trainer = L.Trainer(max_steps=4, callbacks=[EMAWeights(decay=decay), rec, ckpt], logger=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=1, val_check_interval=2, accelerator="cpu")
    trainer.fit(model, loader(), loader(1))
    assert len(rec.states) == 4
    for step in (2, 4):
        saved = torch.load(tmp_path / f"s{step}.ckpt", weights_only=True)
        expected = ema_by_hand(rec.states[:step], decay)
        for k, v in saved["state_dict"].items():
            if v.is_floating_point():
                assert torch.allclose(v, expected[k], atol=1e-6), (step, k)
        raw = saved["current_model_state"]
        assert torch.equal(raw["net.0.weight"], rec.states[step - 1]["net.0.weight"])
        assert not torch.allclose(raw["net.0.weight"], saved["state_dict"]["net.0.weight"])
    # validation during fit ran on the EMA weights (the validation at step 2 and at step 4)
    assert torch.allclose(model.seen[0], ema_by_hand(rec.states[:2], decay)["net.0.weight"], atol=1e-6)
    final = ema_by_hand(rec.states, decay)
    assert torch.allclose(model.net[0].weight, final["net.0.weight"], atol=1e-6)  # after fit
    model.seen.clear()
    trainer.validate(model, loader(1), ckpt_path=str(tmp_path / "s2.ckpt"), verbose=False)
    trainer.test(model, loader(1), ckpt_path=str(tmp_path / "s2.ckpt"), verbose=False)
    assert len(model.seen) == 2
    for seen in model.seen:
        assert torch.allclose(seen, ema_by_hand(rec.states[:2], decay)["net.0.weight"], atol=1e-6)


@pytest.mark.train
def test_ema_waits_for_its_first_update(tmp_path, one_thread):
    """update_starting_at_step=3: validation and checkpoints before it use the plain weights, not the copy
    of the initial weights the average starts from."""
    torch.manual_seed(0)
    model, rec = Toy(), Recorder()
    ckpt = AtomicModelCheckpoint(dirpath=tmp_path, filename="s{step}", every_n_train_steps=2, save_top_k=-1,
                                 auto_insert_metric_name=False, enable_version_counter=False)
    trainer = L.Trainer(max_steps=2, callbacks=[EMAWeights(decay=0.5, update_starting_at_step=3), rec, ckpt],
                        logger=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=1, val_check_interval=2, accelerator="cpu")
    trainer.fit(model, loader(), loader(1))
    saved = torch.load(tmp_path / "s2.ckpt", weights_only=True)
    assert torch.equal(saved["state_dict"]["net.0.weight"], rec.states[-1]["net.0.weight"])
    assert torch.equal(model.seen[0], rec.states[-1]["net.0.weight"])


@pytest.mark.train
def test_ema_resumes_from_a_checkpoint(tmp_path, one_thread):
    """Killed after 2 steps and resumed from that checkpoint: training continues from the raw weights and
    the average from its saved state, so 2 + 2 steps end at the EMA of all 4."""
    torch.manual_seed(0)
    decay, rec = 0.6, Recorder()

    def trainer(steps: int) -> L.Trainer:
        ckpt = AtomicModelCheckpoint(dirpath=tmp_path, filename="s{step}", every_n_train_steps=2, save_top_k=-1,
                                     auto_insert_metric_name=False, enable_version_counter=False)
        return L.Trainer(max_steps=steps, callbacks=[EMAWeights(decay=decay), rec, ckpt], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, accelerator="cpu")

    trainer(2).fit(Toy(), loader())
    model = Toy()
    trainer(4).fit(model, loader(), ckpt_path=str(tmp_path / "s2.ckpt"))
    assert len(rec.states) == 4
    assert torch.allclose(model.net[0].weight, ema_by_hand(rec.states, decay)["net.0.weight"], atol=1e-6)


def test_ema_rejects_a_decay_outside_0_1():
    with pytest.raises(ValueError, match="decay"):
        EMAWeights(decay=1.0)


@pytest.mark.train
def test_all_levers_on_train_and_the_checkpoint_loads(tmp_path, one_thread):
    """A real tiny run with every lever on: train/loss_shortcut is logged, best.ckpt holds the EMA weights
    (the raw ones beside them) and loads with load_model, shortcut head included."""
    csv_path = write_writer_labels(tmp_path / "data", height=32)
    cfg = compose_cfg("train", [*csv_data(csv_path), *TINY, "data.img_height=32", "trainer.max_epochs=2",
                                "trainer.log_every_n_steps=1", "logger=csv", "callbacks=ema",
                                "callbacks.progress_bar=null", "model.shortcut_weight=0.1",
                                "model.encoder.height_pool=max", "data.augment=handwriting"], tmp_path / "run")
    assert cfg.callbacks.ema.decay == 0.999 and cfg.callbacks.model_checkpoint.monitor == "val/cer"
    record = train(cfg)
    assert record["status"] == "ok" and record["best_ckpt"].endswith("best.ckpt")
    with (tmp_path / "run" / "csv" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    steps = [r for r in rows if r.get("train/loss_shortcut")]
    assert steps and all(np.isfinite(float(r["train/loss_shortcut"])) for r in steps)
    for r in steps:  # train/loss is what is minimised: the main CTC loss + 0.1 x the shortcut's
        total = float(r["train/loss_ctc"]) + 0.1 * float(r["train/loss_shortcut"])
        assert float(r["train/loss"]) == pytest.approx(total, rel=1e-4)
    ckpt = read_checkpoint(record["best_ckpt"])
    assert "shortcut.conv.weight" in ckpt["state_dict"] and "current_model_state" in ckpt
    model, _ = load_model(record["best_ckpt"])
    assert model.encoder.output_height == 1 and model.shortcut is not None
    assert torch.equal(model.state_dict()["head.1.weight"], ckpt["state_dict"]["head.1.weight"])
    # ONNX export (column max pooling in the graph, no shortcut head) matches PyTorch
    path, diff = export(compose_cfg("export", [f"ckpt_path={record['best_ckpt']}", "format=onnx",
                                               f"output={tmp_path / 'model.onnx'}"]))
    assert path.is_file() and diff <= ATOL


# --- augmentation ---------------------------------------------------------------------------------------------

def word_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((64, 256), 255, np.uint8)
    img[20:44, 30:220] = rng.integers(0, 120, (24, 190))
    return img


def test_handwriting_preset_keeps_a_word_image_and_is_seeded():
    fn = build_augment("handwriting")
    img = word_image()
    torch.manual_seed(0)
    first = [fn(img) for _ in range(12)]
    torch.manual_seed(0)
    again = [fn(img) for _ in range(12)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert any(not np.array_equal(a, img) for a in first)
    for out in first:
        assert out.dtype == np.uint8 and out.ndim == 2
        assert 0.7 <= (out.shape[1] / out.shape[0]) / (256 / 64) <= 1.4  # the width after normalising the height


def test_handwriting_preset_has_distortion_and_stroke_width():
    pipeline = build_augment("handwriting").args[0]
    kinds = {type(t) for t in pipeline.transforms}
    kinds |= {type(c) for t in pipeline.transforms if isinstance(t, A.OneOf) for c in t.transforms}
    assert {A.ElasticTransform, A.GridDistortion, A.Morphological} <= kinds
    ops = {c.operation for t in pipeline.transforms if isinstance(t, A.OneOf) for c in t.transforms
           if isinstance(c, A.Morphological)}
    assert ops == {"erosion", "dilation"}


def test_lowres_preset_blurs_fine_strokes_sometimes():
    """handwriting_lowres = handwriting + shrink-and-enlarge: 1-px stripes lose their contrast in some draws."""
    pipeline = build_augment("handwriting_lowres").args[0]
    downscale = [t for t in pipeline.transforms if isinstance(t, A.Downscale)]
    assert len(downscale) == 1 and 0.0 < downscale[0].p < 1.0
    img = np.full((64, 256), 255, np.uint8)
    img[20:44, ::2] = 0  # 1-px vertical stripes: survive a geometric warp, not a shrink to half or less
    only_lowres = A.Compose([A.Downscale(scale_range=downscale[0].scale_range,
                                         interpolation_pair=downscale[0].interpolation_pair, p=1.0)])
    only_lowres.set_random_seed(0)
    out = only_lowres(image=img)["image"]
    assert out.shape == img.shape
    stripes = out[24:40, 40:200].astype(float)
    assert stripes.std() < 0.5 * img[24:40, 40:200].astype(float).std()  # the stripes are washed out
    fn = build_augment("handwriting_lowres")
    torch.manual_seed(0)
    outs = [fn(img) for _ in range(16)]
    assert all(o.dtype == np.uint8 and o.ndim == 2 for o in outs)
