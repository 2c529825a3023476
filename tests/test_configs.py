"""Every config option composes and instantiates (the layer below the smoke runs)."""

from __future__ import annotations

import inspect
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from htr_lit.data.datamodule import HTRDataModule
from tests.helpers import compose_cfg

CONF = Path(__file__).parents[1] / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


EXPERIMENTS = sorted(str(p.relative_to(CONF / "experiment"))[:-5] for p in (CONF / "experiment").rglob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiments_compose_and_build_the_model(tmp_path, experiment):
    cfg = compose_cfg("train", [f"experiment={experiment}"], tmp_path)
    model = instantiate(cfg.model, charset=list("abc"))
    assert model.num_parameters() > 0
    assert cfg.callbacks.model_checkpoint.monitor == "val/cer" == cfg.optimized_metric


TRAINERS = {  # option -> (accelerator, strategy, pinned host memory: whenever a GPU is fed)
    "default": ("cpu", None, False), "cpu": ("cpu", None, False), "ddp_cpu": ("cpu", "ddp", False),
    "gpu": ("gpu", None, True), "ddp": ("gpu", "ddp", True)}


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_compose(tmp_path, option):
    accelerator, strategy, pin = TRAINERS[option]
    cfg = compose_cfg("train", [f"trainer={option}"], tmp_path)
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert cfg.trainer.accelerator == accelerator and cfg.trainer.get("strategy") == strategy
    assert cfg.data.pin_memory is pin
    assert cfg.trainer.use_distributed_sampler is False  # our sampler shards by itself
    if accelerator == "cpu":  # buildable here (DDP processes start only at fit)
        trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
        assert isinstance(trainer, L.Trainer) and trainer.world_size == (2 if strategy else 1)


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


def test_dhsd_recipes_mix_in_the_synthetic_names_source(tmp_path, csv_dataset):
    """One node per synthetic source (data/source/*.yaml): crnn_dhsd mounts synthetic_names as it is, and
    only max_train (the first 4,000 names) is the recipe's; a data=synthetic run with
    data/source=synthetic_names reads the same set."""
    names = compose_cfg("train", ["data/source=synthetic_names", f"paths.data_dir={tmp_path}"], tmp_path).data.source
    dhsd = compose_cfg("train", ["experiment=crnn_dhsd", f"paths.data_dir={tmp_path}",
                                 f"paths.dhsd_dir={csv_dataset.parent}"], tmp_path)
    (extra,) = dhsd.data.extra_train_sources
    assert {**extra, "max_train": None} == {**names, "max_train": None} and extra.max_train == 4000
    assert extra.style == "names" and dhsd.data.crop_ink is True
    assert dhsd.pretrained_encoder.endswith("htr_lit/assets/models/pretrained.ckpt")
    dm = instantiate(dhsd.data)
    assert [(type(s).__name__, s.max_train, s.root, s.spec.style) for s in dm.extra_train_sources] == [
        ("SyntheticSource", 4000, tmp_path / "synth_names", "names")]
    assert dm.preprocess.crop_ink
    assert compose_cfg("train", ["experiment=crnn_dhsd", "sweep=reproduce"], tmp_path).data.extra_train_sources == []


TINY_WIDTH = {"bilstm": "hidden_size", "dilated": "channels", "tcn": "channels", "cnn_only": None}


@pytest.mark.parametrize("encoder", options("model/encoder"))
@pytest.mark.parametrize("sequence", options("model/sequence"))
def test_debug_tiny_narrows_whichever_encoder_and_sequence_model(tmp_path, encoder, sequence):
    """debug=tiny picks size=tiny: size/tiny/<group>/<option>.yaml narrows the chosen encoder and sequence
    model, merged after the option (its other settings stay), also under an experiment that picks others."""
    assert set(TINY_WIDTH) == set(options("model/sequence"))
    overrides = ["experiment=crnn_dhsd", f"model/encoder={encoder}", f"model/sequence={sequence}"]
    full, tiny = (compose_cfg("train", [*overrides, *debug], tmp_path) for debug in ([], ["debug=tiny"]))
    assert max(tiny.model.encoder.channels) == 8
    assert len(tiny.model.encoder.channels) == len(full.model.encoder.channels)
    width = TINY_WIDTH[sequence]
    if width:
        assert tiny.model.sequence[width] == 8 and full.model.sequence[width] > 8
    assert {k: v for k, v in tiny.model.sequence.items() if k != width} == {
        k: v for k, v in full.model.sequence.items() if k != width
    }
    assert {k: v for k, v in tiny.model.encoder.items() if k != "channels"} == {
        k: v for k, v in full.model.encoder.items() if k != "channels"
    }
    assert tiny.trainer.max_epochs == 1 and tiny.data.batch_size == 8 and tiny.data.num_workers == 0
    model = instantiate(tiny.model, charset=list("abc"))
    assert model.num_parameters() < instantiate(full.model, charset=list("abc")).num_parameters()


def test_debug_tiny_generates_a_few_synthetic_images_in_their_own_folder(tmp_path):
    for overrides, folder in (([], "synthetic_tiny"), (["experiment=crnn_dhsd"], "synth_names_tiny")):
        cfg = compose_cfg("train", [*overrides, "debug=tiny", f"paths.data_dir={tmp_path}"], tmp_path)
        source = cfg.data.source if not overrides else cfg.data.extra_train_sources[0]
        assert source.root == f"{tmp_path}/{folder}"  # never clashes with the full set
        assert (source.num_train, source.num_val, source.num_test) == (256, 32, 32)


@pytest.mark.parametrize("trainer", options("trainer"))
def test_debug_fast_dev_run_is_one_cpu_batch_without_loggers(tmp_path, trainer):
    cfg = compose_cfg("train", ["debug=fast_dev_run", f"trainer={trainer}"], tmp_path)
    assert cfg.trainer.fast_dev_run is True and cfg.logger is None and cfg.data.num_workers == 0
    assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)  # cpu, whatever the trainer option
    assert options("debug") == ["fast_dev_run", "tiny"] and options("size") == ["full", "tiny", "tiny_data"]


@pytest.mark.parametrize("entry", ["eval", "predict", "inspect"])
def test_inference_entry_points_default_to_the_shipped_recognizer(entry):
    ckpt = Path(compose_cfg(entry, ["input=x.png"] if entry == "predict" else []).ckpt_path)
    assert ckpt.name == "recognizer_separable.ckpt" and ckpt.parent.name == "models" and ckpt.is_file()
