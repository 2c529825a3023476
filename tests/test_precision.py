"""Mixed precision on CPU: bf16-mixed really runs the convs in bf16 and trains with a finite loss."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from tests.conftest import TINY_MODEL, compose_cfg


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
def test_cpu_precision_trains_a_few_steps(csv_dataset, tmp_path, precision, conv_dtype):
    cfg = compose_cfg("train", ["data=csv", f"data.source.csv_path={csv_dataset}", *TINY_MODEL,
                                "trainer=cpu", f"trainer.precision={precision}"], tmp_path)
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
