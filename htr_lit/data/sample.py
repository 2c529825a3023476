"""One labelled word image, as every dataset format yields it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """A word image and its transcription.

    `origin` says where the row came from (``labels.csv:12``) so that every error can name it.
    `problem` is set by a reader for a row it cannot use (e.g. a path outside the dataset folder); the
    datamodule reports or skips such rows with the others (`data.on_error`).
    """

    path: Path
    text: str
    writer_id: str | None = None
    origin: str = ""
    problem: str = ""
