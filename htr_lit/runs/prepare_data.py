"""Prepare a config's data once (e.g. render the synthetic words) before a sweep's parallel jobs start.

    python -m htr_lit.runs.prepare_data sweep=reproduce experiment=ablation/dilated

Composes `train` with the given overrides and runs the datamodule's `prepare_data()` (which generates
every synthetic source under its file lock, or finds it ready and returns).
"""

from __future__ import annotations

import sys

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from htr_lit.config import CONFIG_DIR


def main(overrides: list[str]) -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    instantiate(cfg.data).prepare_data()
    print(f"data ready for: {' '.join(overrides)}")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    main(sys.argv[1:])
