"""Resuming a killed run: which checkpoint `trainer.fit` should continue from, checked before any data loads."""

from __future__ import annotations

import logging
from pathlib import Path

from htr_lit.checkpoint import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)

LAST = "last"
# Where the checkpoint callbacks keep a run's newest state (see conf/callbacks/default.yaml).
LAST_CKPT = "checkpoints/last.ckpt"


def resolve_ckpt_path(ckpt_path: str | None, resume: bool, run_dir: str | Path) -> str | None:
    """The checkpoint to continue from, or None to start fresh.

    - `ckpt_path=last`: `<run dir>/checkpoints/last.ckpt`, which must exist;
    - `ckpt_path=PATH`: that file, which must exist;
    - `resume=true` (and no ckpt_path): last.ckpt if it exists, else a fresh start; so a job that may be
      killed can always be restarted with the same command and the same `hydra.run.dir`.
    The file is read once here (weights_only) so a missing or broken checkpoint fails in seconds.
    """
    if ckpt_path is None and not resume:
        return None
    if ckpt_path is None or ckpt_path == LAST:
        path = Path(run_dir) / LAST_CKPT
        if not path.is_file():
            if ckpt_path is None:  # resume=true on a run that never saved anything: start it
                log.info("resume: no %s yet, starting a fresh run", path)
                return None
            raise CheckpointError(
                f"ckpt_path=last: {path} not found; pass hydra.run.dir=<the run folder to continue> "
                "(its checkpoints/last.ckpt is used) or ckpt_path=<file>"
            )
    else:
        path = Path(ckpt_path)
    ckpt = read_checkpoint(path)  # raises CheckpointError naming the file when missing or unreadable
    for key in ("state_dict", "loops", "optimizer_states"):
        if key not in ckpt:
            hint = ""
            if "state_dict" in ckpt and "htr_lit" in ckpt:  # a shipped or adapted recognizer: weights only
                hint = (" (it holds a recognizer's weights, not a training state: to fine-tune it on your own labelled "
                        f"words run `htr-adapt labels=LABELS.csv ckpt_path={path} out=DIR`; to train its CNN further "
                        f"in a recipe, pretrained_encoder={path})")
            raise CheckpointError(f"{path}: not a Lightning training checkpoint (no {key!r}); cannot resume "
                                  f"from it{hint}")
    log.info("resuming from %s (epoch %s, step %s)", path, ckpt.get("epoch"), ckpt.get("global_step"))
    return str(path)
