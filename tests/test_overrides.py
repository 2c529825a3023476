"""Path values typed as a user types them (umlauts, spaces, commas, brackets) reach Hydra quoted; every
other override is passed through untouched."""

from __future__ import annotations

import importlib
import sys

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from htr_lit.overrides import is_path_key, paths_quoted, quote_path_values


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
    seen = paths_quoted(lambda: list(sys.argv))()
    assert seen == ["htr-predict", "input='Köln.png'", "batch_size=8"]


@pytest.mark.parametrize("module", ["train", "eval", "predict", "export", "inspect"])
def test_every_hydra_entry_point_quotes_paths(module):
    main = importlib.import_module(f"htr_lit.{module}").main
    assert main.__code__ is paths_quoted(print).__code__
