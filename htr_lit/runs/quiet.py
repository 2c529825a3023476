"""Lightning's messages that say nothing about a run, silenced in one place, each by its own text: the
litlogger / litmodels tips (advertisements printed by every Trainer), torch's `LeafSpec` deprecation that
Lightning's own pytree helper triggers (nothing here uses LeafSpec), and the `srun` hint on a machine with
Slurm installed when the run is one process (the hint is about multi-process runs started without srun,
so it stays for those)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

TIP_PREFIX = "💡 Tip:"
LEAFSPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
SRUN_HINT = r"The `srun` command is available on your system but is not used"
# The loggers Lightning's rank_zero_info writes through (the pytorch and fabric halves).
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class DropTips(logging.Filter):
    """Drops Lightning's "💡 Tip: try installing ..." lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(TIP_PREFIX)


def one_process(trainer_cfg: Any) -> bool:
    """Whether a trainer config runs one process: one node, and one device (1, "1" or a one-item list)."""
    if trainer_cfg is None:
        return True
    devices, nodes = trainer_cfg.get("devices", 1), trainer_cfg.get("num_nodes", 1)
    single = devices in (1, "1") or (not isinstance(devices, (int, str)) and len(devices) == 1)
    return single and nodes in (1, "1", None)


def quiet_lightning(trainer_cfg: Any = None) -> None:
    """Install the filters (idempotent). `trainer_cfg`: the run's trainer node, to keep the srun hint for
    multi-process runs."""
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropTips) for f in logger.filters):
            logger.addFilter(DropTips())
    warnings.filterwarnings("ignore", message=LEAFSPEC, category=FutureWarning)
    if one_process(trainer_cfg):
        warnings.filterwarnings("ignore", message=SRUN_HINT)
