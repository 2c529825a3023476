"""Every config option composes and instantiates (the layer below the smoke runs)."""

from __future__ import annotations

import inspect
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from htr_lit.data.datamodule import HTRDataModule
from tests.conftest import compose_cfg

CONF = Path(__file__).parents[1] / "htr_lit" / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


@pytest.mark.parametrize("experiment", options("experiment"))
def test_experiments_compose_and_build_the_model(tmp_path, experiment):
    cfg = compose_cfg("train", [f"experiment={experiment}"], tmp_path)
    model = instantiate(cfg.model, charset=list("abc"))
    assert model.num_parameters() > 0
    assert cfg.callbacks.model_checkpoint.monitor == "val/cer" == cfg.optimized_metric


@pytest.mark.parametrize("trainer", options("trainer"))
def test_trainer_options_compose(tmp_path, trainer):
    cfg = compose_cfg("train", [f"trainer={trainer}"], tmp_path)
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if cfg.trainer.accelerator == "cpu":
        assert isinstance(instantiate(cfg.trainer, logger=False, enable_checkpointing=False), L.Trainer)


@pytest.mark.parametrize("logger", options("logger"))
def test_logger_options_instantiate_without_prompting(tmp_path, logger, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = compose_cfg("train", [f"logger={logger}"], tmp_path)
    loggers = [instantiate(c) for c in cfg.logger.values()]
    assert loggers and all(isinstance(lg, L.pytorch.loggers.Logger) for lg in loggers)


def test_callbacks_instantiate(tmp_path):
    cfg = compose_cfg("train", [], tmp_path)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {k.__name__ for c in callbacks for k in type(c).__mro__} >= {"ModelCheckpoint", "EarlyStopping"}


@pytest.mark.parametrize("optimizer", options("model/optimizer"))
@pytest.mark.parametrize("scheduler", options("model/scheduler"))
def test_optimizer_and_scheduler_partials(tmp_path, optimizer, scheduler):
    cfg = compose_cfg("train", [f"model/optimizer={optimizer}", f"model/scheduler={scheduler}"], tmp_path)
    params = [torch.nn.Parameter(torch.zeros(2))]
    opt = instantiate(cfg.model.optimizer)(params=params)
    make_scheduler = instantiate(cfg.model.scheduler)
    extra = {"total_steps": 100} if "total_steps" in inspect.signature(make_scheduler.func).parameters else {}
    sched = make_scheduler(optimizer=opt, **extra)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] > 0


@pytest.mark.parametrize("data", options("data"))
def test_data_options_instantiate(tmp_path, data, csv_dataset):
    required = {
        "csv": [f"data.source.csv_path={csv_dataset}"],
        "dhsd": [f"paths.dhsd_dir={csv_dataset.parent}"],
        "iam": ["data.source.words_txt=words.txt", "data.source.train_ids=a", "data.source.val_ids=b",
                "data.source.test_ids=c"],
        "gt_folder": [f"data.source.folder={tmp_path}"],
        "synthetic": [f"paths.data_dir={tmp_path}"],
    }
    cfg = compose_cfg("train", [f"data={data}", *required.get(data, [])], tmp_path)
    dm = instantiate(cfg.data)
    assert isinstance(dm, HTRDataModule) and hasattr(dm.source, "load")
