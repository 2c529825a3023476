"""Fine-tune a recognizer on a user's own labelled words: `python -m htr_lit.adapt labels=LABELS.csv out=DIR`
(or `htr-adapt`, `make adapt`). Writes DIR/adapted.ckpt, which htr-predict reads like any checkpoint, and
DIR/adapt.json (words, step kept, CER on the held-out words before and after); the work is
`htr_lit.adaptation.job.adapt`."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from htr_lit.adaptation.job import adapt
from htr_lit.config import CONFIG_DIR
from htr_lit.errors import exit_on_user_error
from htr_lit.overrides import checked_overrides

__all__ = ["adapt", "main"]


@checked_overrides("adapt")
@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="adapt")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s")
    with exit_on_user_error():
        adapt(cfg)


if __name__ == "__main__":
    main()
