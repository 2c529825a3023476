"""Speed options on CPU: bf16-mixed really runs the convs in bf16 and trains with a finite loss;
`model.compile` and `model.channels_last` are applied and change no numbers."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from tests.helpers import TINY, compose_cfg


class Record(L.Callback):
    """Losses of each step and the dtype the encoder's first conv produced."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.dtypes: set[torch.dtype] = set()

    def on_fit_start(self, trainer, pl_module) -> None:
        conv = pl_module.encoder.net[0]
        conv.register_forward_hook(lambda m, i, o: self.dtypes.add(o.dtype))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


@pytest.mark.parametrize("precision, conv_dtype", [("bf16-mixed", torch.bfloat16), ("32-true", torch.float32)])
@pytest.mark.train
def test_cpu_precision_trains_a_few_steps(csv_dataset, tmp_path, precision, conv_dtype):
    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={csv_dataset}", *TINY,
                                "trainer=cpu", f"trainer.precision={precision}", "trainer.max_epochs=3"], tmp_path)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    model = instantiate(cfg.model, charset=dm.charset.chars)
    before = [p.detach().clone() for p in model.parameters()]
    rec = Record()
    trainer = instantiate(cfg.trainer, max_steps=4, limit_val_batches=0, logger=False, callbacks=[rec],
                          enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=dm)
    assert len(rec.losses) == 4 and all(math.isfinite(x) for x in rec.losses), rec.losses
    assert rec.dtypes == {conv_dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def build(tmp_path, csv_dataset, *overrides: str):
    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={csv_dataset}", *TINY, *overrides], tmp_path)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    torch.manual_seed(0)
    return instantiate(cfg.model, charset=dm.charset.chars), dm


def test_compile_flag_compiles_encoder_and_sequence_for_training_only(csv_dataset, tmp_path):
    model, _ = build(tmp_path, csv_dataset, "model.compile=true")
    model.setup("test")
    assert model.encoder._compiled_call_impl is None
    model.setup("fit")
    assert model.encoder._compiled_call_impl is not None and model.sequence._compiled_call_impl is not None
    assert not any("_orig_mod" in k for k in model.state_dict())  # checkpoints load without compile
    plain, _ = build(tmp_path, csv_dataset)
    plain.setup("fit")
    assert plain.encoder._compiled_call_impl is None  # off by default


@pytest.mark.parametrize("sequence", ["bilstm", "dilated model.sequence.channels=8"])
def test_channels_last_gives_the_same_outputs(csv_dataset, tmp_path, sequence):
    seq = [f"model/sequence={sequence.split()[0]}", *sequence.split()[1:]]
    ref, dm = build(tmp_path, csv_dataset, *seq)
    nhwc, _ = build(tmp_path, csv_dataset, *seq, "model.channels_last=true")
    conv = [m for m in nhwc.encoder.net if isinstance(m, torch.nn.Conv2d)][1]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.weight.shape[1] > 1
    nhwc.load_state_dict(ref.state_dict())
    ref.eval(), nhwc.eval()
    batch = next(iter(dm.val_dataloader()))
    with torch.inference_mode():
        a, la = ref(batch["images"], batch["widths"])
        b, lb = nhwc(batch["images"], batch["widths"])
    assert torch.equal(la, lb) and torch.allclose(a, b, atol=1e-4)
