"""Prepare a config's data once (e.g. render the synthetic words) before a sweep's parallel jobs start.

    python -m htr_lit.runs.prepare_data sweep=reproduce experiment=ablation/dilated

Composes `train` with the given overrides and runs the datamodule's `prepare_data()` (which generates
every synthetic source under its file lock, or finds it ready and returns).
"""

from __future__ import annotations

import sys

from hydra.utils import instantiate

from htr_lit.config import compose_config


def main(overrides: list[str]) -> None:
    cfg = compose_config("train", overrides)
    instantiate(cfg.data).prepare_data()
    print(f"data ready for: {' '.join(overrides)}")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    main(sys.argv[1:])
