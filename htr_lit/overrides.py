"""Command-line overrides as a user types them: a file path given to a path key (`input=Köln.png`,
`ckpt_path="runs/a (2)/best.ckpt"`, `input='scan_[12].png'`) is quoted for Hydra's override grammar, which
rejects unquoted non-ASCII letters, spaces, brackets and parentheses, and reads a comma as a sweep.

Only keys that name files are touched, only when Hydra's own parser rejects the value (or reads a path
with a comma as a sweep outside `--multirun`), and a value already quoted or holding `${` is left alone.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

PATH_KEYS = frozenset({"input", "ckpt_path", "out", "output", "csv_path", "train_csv", "val_csv", "test_csv",
                       "root", "lm_text", "dir"})
PATH_SUFFIXES = ("_path", "_dir", "_csv", "_file")
MULTIRUN_FLAGS = ("-m", "--multirun")


def is_path_key(key: str) -> bool:
    """`input`, `data.csv_path`, `paths.data_dir`, `+model.weights_file`..."""
    last = key.lstrip("+~").rsplit(".", 1)[-1]
    return last in PATH_KEYS or last.endswith(PATH_SUFFIXES)


def quote_path_values(args: Sequence[str]) -> list[str]:
    """`args` with each path key's value quoted where Hydra would reject or sweep it unquoted."""
    parser = OverridesParser.create()
    multirun = any(a in MULTIRUN_FLAGS for a in args)
    return [_quoted(arg, parser, multirun) for arg in args]


def _quoted(arg: str, parser: OverridesParser, multirun: bool) -> str:
    key, sep, value = arg.partition("=")
    if not sep or arg.startswith("-") or not value or not is_path_key(key):
        return arg
    if value[0] in "'\"" or "${" in value:
        return arg
    try:
        if multirun or not parser.parse_override(arg).is_sweep_override():
            return arg
    except HydraException:
        pass  # OverrideParseException: the grammar rejects the value as typed
    if "'" not in value:
        return f"{key}='{value}'"
    if '"' not in value:
        return f'{key}="{value}"'
    return arg


def paths_quoted(main: Callable[..., Any]) -> Callable[..., Any]:
    """Outside `@hydra.main`: rewrite sys.argv's path values before Hydra parses them."""
    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sys.argv[1:] = quote_path_values(sys.argv[1:])
        return main(*args, **kwargs)
    return wrapper
