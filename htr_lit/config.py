"""Hydra/OmegaConf glue: the config folder and the `${htr_root:}` resolver."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the source checkout, when the package runs from one
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")  # shipped inside the package


def project_root() -> Path:
    """The source checkout holding this package (its pyproject.toml names htr-lit); when the package is
    installed (site-packages), the current working directory: data and outputs never go into site-packages."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    try:
        from_checkout = 'name = "htr-lit"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        from_checkout = False
    return PROJECT_ROOT if from_checkout else Path.cwd()


def shown_path(path: Path | str, base: Path | None = None) -> str:
    """A path as reports and docs print it: relative to `base` (default: the checkout, `project_root()`) when it
    lies under it, so that docs in git name `docs/cv/...` rather than one machine's absolute path; else as given."""
    try:
        return str(Path(path).resolve().relative_to((base or project_root()).resolve()))
    except ValueError:
        return str(path)


def _gpu_slot() -> int:
    """The GPU for this sweep job on a multi-GPU box: hydra.job.num modulo the visible GPUs."""
    import torch
    from hydra.core.hydra_config import HydraConfig

    num = HydraConfig.get().job.get("num") if HydraConfig.initialized() else None
    return (num or 0) % max(torch.cuda.device_count(), 1)


def _mkdir(path: str) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def register_resolvers() -> None:
    """`${htr_root:}` is the repository root (the working directory for an installed package, see
    `project_root`), so default paths work from any working directory in a checkout.
    `${htr_mkdir:PATH}` is PATH, created if missing (e.g. the folder of an Optuna SQLite file).
    `${htr_assets:}` is the package's assets folder (vendored fonts, name lists, the shipped models)."""
    if not OmegaConf.has_resolver("htr_root"):
        OmegaConf.register_new_resolver("htr_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("gpu_slot"):  # trainer.devices=[${gpu_slot:}] in local parallel sweeps
        OmegaConf.register_new_resolver("gpu_slot", _gpu_slot)
    if not OmegaConf.has_resolver("htr_mkdir"):
        OmegaConf.register_new_resolver("htr_mkdir", _mkdir)
    if not OmegaConf.has_resolver("htr_assets"):  # files shipped inside the package (fonts, models)
        OmegaConf.register_new_resolver("htr_assets", lambda: str(Path(__file__).resolve().parent / "assets"))


register_resolvers()
