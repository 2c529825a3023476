"""A NaN/inf loss batch is skipped with a warning and no parameter update; too many in a row stop the run.

(Lightning still counts the skipped step in global_step and steps the LR scheduler; the optimizer finds
no gradients and changes nothing.)
"""

from __future__ import annotations

import logging

import lightning as L
import pytest
import torch

from tests.helpers import tiny_data_and_model


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny LSTM on 2 threads of a loaded 2-core machine is ~100x slower
    yield
    torch.set_num_threads(threads)


def setup(csv_dataset, tmp_path, nan_batches: set[int], limit: int):
    dm, model = tiny_data_and_model(csv_dataset, tmp_path, "data.batch_size=4", f"model.max_nonfinite_losses={limit}")
    real_loss = model._loss

    def injected(batch):  # NaN for the chosen training batches (by call order)
        loss, log_probs, lengths = real_loss(batch)
        injected.calls += 1
        return (loss * float("nan") if injected.calls in nan_batches else loss), log_probs, lengths

    injected.calls = 0
    model._loss = injected
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, gradient_clip_val=5.0,
                        accelerator="cpu")
    return model, dm, trainer


def params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.train
def test_nan_batches_are_skipped_without_an_update(csv_dataset, tmp_path, caplog):
    model, dm, trainer = setup(csv_dataset, tmp_path, nan_batches={1, 2, 3}, limit=5)
    before = params(model)
    with caplog.at_level(logging.WARNING, logger="htr_lit.models.module"):
        trainer.fit(model, datamodule=dm)
    assert all(torch.equal(a, b) for a, b in zip(before, params(model)))  # a NaN step would poison them
    assert model.nonfinite_in_a_row == 3
    assert caplog.text.count("batch skipped without an update") == 3 and "loss is nan" in caplog.text


@pytest.mark.train
def test_one_nan_batch_among_good_ones_is_skipped(csv_dataset, tmp_path):
    model, dm, trainer = setup(csv_dataset, tmp_path, nan_batches={2}, limit=1)
    before = params(model)
    trainer.fit(model, datamodule=dm)
    after = params(model)
    assert all(torch.isfinite(p).all() for p in after) and any(not torch.equal(a, b) for a, b in zip(before, after))
    assert model.nonfinite_in_a_row == 0  # reset by the next finite loss


@pytest.mark.train
def test_too_many_nan_losses_in_a_row_stop_with_a_clear_error(csv_dataset, tmp_path):
    model, dm, trainer = setup(csv_dataset, tmp_path, nan_batches={1, 2, 3}, limit=2)
    with pytest.raises(
        FloatingPointError, match=r"3 non-finite losses in a row \(limit model.max_nonfinite_losses=2\)"
    ):
        trainer.fit(model, datamodule=dm)
