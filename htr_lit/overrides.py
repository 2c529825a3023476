"""Command-line overrides as a user types them. A key that no config holds (`shiped=fast`, `+shiped=fast`) or
a bare argument (`four.txt`) is refused in one line naming the closest keys, before Hydra runs.

A file path given to a path key (`input=Köln.png`,
`ckpt_path="runs/a (2)/best.ckpt"`, `input='scan_[12].png'`) is quoted for Hydra's override grammar, which
rejects unquoted non-ASCII letters, spaces, brackets and parentheses, and reads a comma as a sweep.

Only keys that name files are touched, only when Hydra's own parser rejects the value (or reads a path
with a comma as a sweep outside `--multirun`), and a value already quoted or holding `${` is left alone.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig

PATH_KEYS = frozenset({"input", "ckpt_path", "out", "output", "csv_path", "train_csv", "val_csv", "test_csv",
                       "root", "lm_text", "dir", "labels", "image_root"})
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


def checked_overrides(config_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Outside `@hydra.main(config_name=...)`: rewrite sys.argv's path values before Hydra parses them, and
    refuse an unknown key or a bare argument in one line (`error: ...`, exit status 2) before anything runs."""

    def decorate(main: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(main)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sys.argv[1:] = quote_path_values(sys.argv[1:])
            try:
                check_keys(config_name, sys.argv[1:])
            except UnknownKeyError as err:
                print(f"error: {err}", file=sys.stderr)
                sys.exit(USAGE_EXIT)
            return main(*args, **kwargs)

        wrapper.config_name = config_name  # type: ignore[attr-defined]
        return wrapper

    return decorate


# --- Unknown keys: refused before Hydra runs, with the closest valid keys ------------------------------------

SKIP_FLAGS = ("help", "hydra_help", "shell_completion", "info", "experimental_rerun", "config_name", "config_dir",
              "config_path")
USAGE_EXIT = 2  # a command line the program cannot run (as argparse exits)


class UnknownKeyError(ValueError):
    """An override naming a key that is in no config (`shiped=fast`, `+shiped=fast`), or a bare argument."""


def check_keys(config_name: str, args: Sequence[str]) -> None:
    """Raise UnknownKeyError for the first override that names no key of `config_name` (composed with the
    command line's group choices, so an experiment's own keys count) and no config group.

    `+key=value` adds a key; that is accepted only inside an object node (one with `_target_`, e.g.
    `+trainer.enable_progress_bar=false`), whose constructor then checks the name; elsewhere nothing reads
    an added key, so a typo would run the defaults silently. `hydra.*` keys and Hydra's own flags are left
    to Hydra, as is a group option that does not exist (it lists the options)."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed = get_args_parser().parse_args(list(args))
    except SystemExit:  # argparse's own usage error: Hydra reports it the same way
        return
    if any(getattr(parsed, flag, None) for flag in SKIP_FLAGS):
        return
    for arg in parsed.overrides:
        if "=" not in arg and not arg.startswith("~"):
            raise UnknownKeyError(bare_argument_hint(config_name, arg))
    try:
        overrides = OverridesParser.create().parse_overrides(parsed.overrides)
    except HydraException:
        return  # Hydra reports the grammar error with its position
    groups = config_groups()
    chosen = [o for o in overrides if _is_group(o, groups)]
    to_check = [o for o in overrides if not _is_group(o, groups) and not o.is_delete()
                and not o.key_or_group.startswith("hydra")]
    if not to_check:
        return
    configs = composed(config_name, chosen)
    if not configs:
        return  # a group option that does not exist: Hydra's error names the options
    for override in to_check:
        problems = [_key_problem(cfg, override) for cfg in configs]
        if all(p is not None for p in problems):
            keys = sorted({k for cfg in configs for k in [*key_paths(cfg), *cfg.hydra.runtime.choices]
                           if not k.startswith("hydra")})
            raise UnknownKeyError(f"{override.input_line}: unknown key '{override.key_or_group}'"
                                  f"{did_you_mean(override.key_or_group, keys)} ({problems[0]}--help lists the keys)")


def _is_group(override: Any, groups: frozenset[str]) -> bool:
    return override.key_or_group in groups or override.key_or_group.startswith("hydra/")


def _key_problem(cfg: DictConfig, override: Any) -> str | None:
    """None when `override` may set its key in `cfg`; else a hint for the message ("" when none)."""
    node: Any = cfg
    parts = override.key_or_group.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, DictConfig):
            return None  # a list index or a value below a null / scalar: Hydra's own message is precise
        if part not in node.keys():
            added = override.is_add() or override.is_force_add()
            if added and depth == len(parts) - 1 and "_target_" in node.keys():
                return None  # a constructor argument of an object node: the constructor checks the name
            if added:  # a key nothing would read
                return "+ adds a key only as an argument of an object node (_target_), e.g. +trainer.ARG=...; "
            return ""

        node = node._get_node(part)
    return None


def composed(config_name: str, chosen: Sequence[Any]) -> list[DictConfig]:
    """The config with the command line's group choices; one per value of a swept group (`-m
    experiment=a,b`: a key of either experiment is known). Empty when a choice does not compose."""
    from htr_lit.config import compose_config

    fixed = [o.input_line for o in chosen if not o.is_sweep_override()]
    variants = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
                for o in chosen if o.is_sweep_override()]
    runs = [[*fixed, v] for values in variants for v in values] or [fixed]
    out = []
    for run in runs:
        try:
            out.append(compose_config(config_name, run, hydra=True))
        except Exception:  # noqa: BLE001 - Hydra raises several types; it reports them itself
            return []
    return out


@functools.cache
def config_groups() -> frozenset[str]:
    """Every config group under the config folder (`data`, `model/encoder`, `hydra/launcher`, ...)."""
    from htr_lit.config import CONFIG_DIR

    root = Path(CONFIG_DIR)
    return frozenset(d.relative_to(root).as_posix() for d in root.rglob("*") if d.is_dir() and any(d.glob("*.yaml")))


def key_paths(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Every key of `cfg` as a dotted path (`trainer.max_epochs`), containers included."""
    paths = []
    for key in cfg.keys():
        path = f"{prefix}{key}"
        paths.append(path)
        child = cfg._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            paths.extend(key_paths(child, f"{path}."))
    return paths


def did_you_mean(key: str, known: Sequence[str]) -> str:
    """`; did you mean shipped?` (up to three close keys, difflib), or `` when none is close."""
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if not close:  # `beam_width` for `decoder.beam_width`: compare the last parts
        last = key.rsplit(".", 1)[-1]
        ends = {k.rsplit(".", 1)[-1]: k for k in sorted(known, key=len, reverse=True)}
        close = [ends[e] for e in difflib.get_close_matches(last, list(ends), n=3, cutoff=0.75)]
    return f"; did you mean {' or '.join(close)}?" if close else ""


def bare_argument_hint(config_name: str, arg: str) -> str:
    """`four.txt: arguments are key=value; did you mean input=four.txt?`: the key a bare argument most
    likely belongs to (a group it names an option of, `ckpt_path` for a .ckpt, `test_csv` for a .csv,
    `input` for anything else where predict reads it)."""
    from htr_lit.config import CONFIG_DIR

    options = [g for g in sorted(config_groups()) if (Path(CONFIG_DIR) / g / f"{arg}.yaml").is_file()]
    guesses = {".ckpt": "ckpt_path", ".csv": "test_csv"}
    key = options[0] if options else guesses.get(Path(arg).suffix.lower(), "input")
    keys = set(options) | {"ckpt_path", "test_csv" if config_name in ("eval", "inspect") else "",
                           "input" if config_name == "predict" else ""}
    hint = f"; did you mean {key}={arg}?" if key in keys else ""
    return f"{arg}: arguments are key=value{hint} (--help lists the keys)"
