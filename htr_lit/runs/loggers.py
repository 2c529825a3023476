"""Logger factories that need logic beyond a plain `_target_`."""

from __future__ import annotations

import netrc
import os
from collections.abc import Sequence

from lightning.pytorch.loggers import WandbLogger


def wandb_configured() -> bool:
    """True when the user has W&B credentials (env key or `wandb login`'s netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_logger(
    project: str,
    save_dir: str,
    name: str | None = None,
    group: str | None = None,
    tags: Sequence[str] = (),
    mode: str | None = None,
) -> WandbLogger:
    """W&B logger that never prompts: online only when configured, offline otherwise.

    `mode=None` picks WANDB_MODE if set, else online/offline from `wandb_configured()`.
    """
    mode = mode or os.environ.get("WANDB_MODE") or ("online" if wandb_configured() else "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLogger(project=project, save_dir=save_dir, name=name, group=group, tags=list(tags), mode=mode)
