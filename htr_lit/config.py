"""Hydra/OmegaConf glue: the config folder and the `${htr_root:}` resolver."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the source checkout, when the package runs from one


def _in_checkout() -> bool:
    """Whether this package runs from its source checkout (the folder above holds htr-lit's pyproject.toml)."""
    try:
        return 'name = "htr-lit"' in (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False


# The Hydra config tree is one folder, conf/ at the top of the repository. Run from the checkout (the editable
# install of `make setup`, the tests), it is read there; a built wheel ships the same files as the package data
# of htr_lit.conf (pyproject.toml maps htr_lit.conf to conf/), so an installed package reads
# site-packages/htr_lit/conf.
CONFIG_DIR = str(PROJECT_ROOT / "conf" if _in_checkout() else Path(__file__).resolve().parent / "conf")


def compose_config(config_name: str, overrides: Sequence[str] = (), *, hydra: bool = False) -> DictConfig:
    """`conf/<config_name>.yaml` composed with `overrides` as its command line composes it, for code that runs
    outside a Hydra app (benchmarks, scoring, data preparation, the tests); `hydra=True` keeps the `hydra` node.
    Hydra's global state is set aside meanwhile, so an app running in this process keeps its own."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    outer = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=hydra)
    finally:
        restore_gh_from_backup(outer)


def project_root() -> Path:
    """The source checkout holding this package (its pyproject.toml names htr-lit); when the package is
    installed (site-packages), the current working directory: data and outputs never go into site-packages."""
    return PROJECT_ROOT if _in_checkout() else Path.cwd()


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
    `${htr_assets:}` is the package's assets folder (vendored fonts, name lists, the shipped models).
    `${htr_slug:TEXT}` is TEXT with `/` as `_` (a config choice such as ablation/tcn as one folder name)."""
    if not OmegaConf.has_resolver("htr_root"):
        OmegaConf.register_new_resolver("htr_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("gpu_slot"):  # trainer.devices=[${gpu_slot:}] in local parallel sweeps
        OmegaConf.register_new_resolver("gpu_slot", _gpu_slot)
    if not OmegaConf.has_resolver("htr_mkdir"):
        OmegaConf.register_new_resolver("htr_mkdir", _mkdir)
    if not OmegaConf.has_resolver("htr_assets"):  # files shipped inside the package (fonts, models)
        OmegaConf.register_new_resolver("htr_assets", lambda: str(Path(__file__).resolve().parent / "assets"))
    if not OmegaConf.has_resolver("htr_slug"):  # a config choice as one folder name: ablation/tcn -> ablation_tcn
        OmegaConf.register_new_resolver("htr_slug", lambda text: str(text).replace("/", "_"))


register_resolvers()
