"""The errors a user can fix (bad data, config or checkpoint) and how entry points report them: the
message alone (`error: ...` on stderr, exit 1) instead of a traceback. Kept free of htr_lit imports, so
that every layer (data, decoding, checkpoint, entry points) can use it without import cycles."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import InstantiationException
from omegaconf.errors import MissingMandatoryValue


class UserError(Exception):
    """A problem in the user's input (data files, config, checkpoint) whose message says what to fix.

    Subclasses also inherit the built-in type they always had (ValueError, FileNotFoundError...), so
    existing `except ValueError` handlers keep working.
    """


class ConfigError(UserError, ValueError):
    """A config value an entry point cannot work with (e.g. an unknown export format)."""


def find_user_error(err: BaseException) -> UserError | None:
    """`err` when it is a UserError, or the UserError that Hydra's `instantiate` wrapped; else None."""
    while err is not None:
        if isinstance(err, UserError):
            return err
        if not isinstance(err, InstantiationException):
            return None
        err = err.__cause__
    return None


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Around an entry point's work (inside `@hydra.main`, which would wrap it): a UserError exits with
    `error: <message>` on stderr and status 1, as does a required key left at `???` (`ckpt_path= is
    required`); any other exception keeps its traceback."""
    try:
        yield
    except MissingMandatoryValue as err:
        key = getattr(err, "full_key", None) or "a required key"
        sys.exit(f"error: {key}= is required (pass it as {key}=VALUE; --help lists every key)")
    except Exception as err:
        found = find_user_error(err)
        if found is None:
            raise
        sys.exit(f"error: {found}")
