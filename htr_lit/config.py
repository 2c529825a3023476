"""Hydra/OmegaConf glue: the config folder and the `${htr_root:}` resolver."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")


def _mkdir(path: str) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def register_resolvers() -> None:
    """`${htr_root:}` is the repository root, so default paths work from any working directory.
    `${htr_mkdir:PATH}` is PATH, created if missing (e.g. the folder of an Optuna SQLite file)."""
    if not OmegaConf.has_resolver("htr_root"):
        OmegaConf.register_new_resolver("htr_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("htr_mkdir"):
        OmegaConf.register_new_resolver("htr_mkdir", _mkdir)


register_resolvers()
