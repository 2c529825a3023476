"""Path values typed as a user types them (umlauts, spaces, commas, brackets) reach Hydra quoted; every
other override is passed through untouched. A key no config holds, typed with or without `+`, and a bare
argument are refused in one line with the closest keys (exit status 2)."""

from __future__ import annotations

import importlib
import sys

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from htr_lit.overrides import UnknownKeyError, check_keys, checked_overrides, is_path_key, quote_path_values


def parsed_value(arg: str) -> str:
    return OverridesParser.create().parse_override(arg).value()


@pytest.mark.parametrize("path", ["Köln.png", "scans/Straße 1.png", "a,b.png", "scan (1).png", "word_[12].png",
                                  "it's.png", "~/scans/w.png"])
def test_path_values_hydra_would_reject_or_sweep_are_quoted_and_read_back_as_typed(path):
    (arg,) = quote_path_values([f"input={path}"])
    assert arg != f"input={path}"
    assert parsed_value(arg) == path


@pytest.mark.parametrize("arg", [
    "input=words/word_1.png",            # Hydra reads it as typed
    "input='Köln.png'",                  # already quoted
    "input=${oc.env:HOME}/Köln.png",     # an interpolation stays one
    "model.rates=[1,2,4]",               # not a path key
    "data.source.test_writers=['17','27']",
    "decoder=beam_names",
    "--help",
    "hydra.run.dir=outputs/${now:%H-%M}",
    """input=it's "quoted".png""",       # both quote kinds: left for Hydra to report
])
def test_other_overrides_pass_through_untouched(arg):
    assert quote_path_values([arg]) == [arg]


def test_a_comma_is_a_sweep_under_multirun():
    assert quote_path_values(["-m", "ckpt_path=a.ckpt,b.ckpt"]) == ["-m", "ckpt_path=a.ckpt,b.ckpt"]
    assert quote_path_values(["ckpt_path=a.ckpt,b.ckpt"]) == ["ckpt_path='a.ckpt,b.ckpt'"]


def test_path_keys():
    assert all(is_path_key(k) for k in ["input", "ckpt_path", "data.csv_path", "paths.data_dir", "+x.weights_file",
                                        "decoder.lm_text", "hydra.run.dir"])
    assert not any(is_path_key(k) for k in ["decoder", "model.rates", "trainer.max_epochs", "format"])


def test_decorator_rewrites_argv_before_the_wrapped_main(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["htr-predict", "input=Köln.png", "batch_size=8"])
    seen = checked_overrides("predict")(lambda: list(sys.argv))()
    assert seen == ["htr-predict", "input='Köln.png'", "batch_size=8"]


@pytest.mark.parametrize("module", ["train", "eval", "predict", "export", "inspect"])
def test_every_hydra_entry_point_quotes_paths_and_checks_keys_of_its_own_config(module):
    main = importlib.import_module(f"htr_lit.{module}").main
    assert main.__code__ is checked_overrides(module)(print).__code__
    assert main.config_name == module


def refusal(config_name: str, *args: str) -> str:
    with pytest.raises(UnknownKeyError) as err:
        check_keys(config_name, args)
    return str(err.value)


@pytest.mark.parametrize("typo", ["shiped=fast", "+shiped=fast", "++shiped=fast"])
def test_a_misspelt_key_is_refused_with_or_without_plus_naming_the_close_key(typo):
    message = refusal("predict", "input=x.png", typo)
    assert message.startswith(f"{typo}: unknown key 'shiped'; did you mean shipped")
    assert "\n" not in message


@pytest.mark.parametrize(("config_name", "args", "close"), [
    ("train", ["trainer.max_epoch=3"], "trainer.max_epochs"),
    ("train", ["experimnt=crnn_dhsd"], "experiment"),       # a group name
    ("eval", ["data=dhsd", "data.eval_bach_size=4"], "data.eval_batch_size"),
    ("export", ["formt=onnx"], "format"),
    ("inspect", ["num_worts=3"], "num_worst"),
    ("train", ["+trainer.foo.bar=1"], "trainer"),           # below an argument: nothing would read it
])
def test_every_entry_point_names_the_closest_valid_keys(config_name, args, close):
    assert f"did you mean {close}" in refusal(config_name, *args)


@pytest.mark.parametrize(("config_name", "args"), [
    ("eval", ["+trainer.enable_progress_bar=false", "data.eval_batch_size=4"]),  # a Trainer argument
    ("train", ["++trainer.limit_train_batches=2", "+data.source.seed=3"]),       # object nodes' arguments
    ("train", ["experiment=crnn_dhsd", "data.source.test_writers=['1']"]),       # a key the experiment's data has
    ("train", ["-m", "experiment=ablation/bilstm,ablation/tcn", "model.sequence.kernel_size=3"]),  # tcn's key
    ("train", ["hydra.run.dir=x", "~callbacks.lr_monitor", "--cfg", "job"]),
    ("predict", ["decoder=beam", "decoder.beam_width=3", "input=x.png"]),
    ("eval", ["data=no_such_option", "foo=1"]),  # Hydra lists the options of a group
    ("train", ["--help", "foo=1"]),
])
def test_keys_the_configs_hold_or_constructors_take_pass(config_name, args):
    check_keys(config_name, args)


def test_a_key_only_another_option_holds_is_refused():
    assert "unknown key 'model.sequence.kernel_size'" in refusal(
        "train", "experiment=ablation/bilstm", "model.sequence.kernel_size=3")


@pytest.mark.parametrize(("config_name", "arg", "hint"), [
    ("predict", "four.txt", "input=four.txt"),
    ("eval", "best.ckpt", "ckpt_path=best.ckpt"),
    ("inspect", "labels.csv", "test_csv=labels.csv"),
    ("train", "crnn_dhsd", "experiment=crnn_dhsd"),
])
def test_a_bare_argument_gets_a_one_line_hint(config_name, arg, hint):
    assert refusal(config_name, arg) == f"{arg}: arguments are key=value; did you mean {hint}? (--help lists the keys)"


def test_the_entry_point_exits_2_with_one_line_before_hydra_runs(monkeypatch, capsys):
    from htr_lit.predict import main

    monkeypatch.setattr(sys, "argv", ["htr-predict", "input=x.png", "+shiped=fast"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: +shiped=fast: unknown key 'shiped'; did you mean shipped") and err.count("\n") == 1
