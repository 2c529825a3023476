"""One writer fold as one job of a Hydra multirun: `python -m htr_lit.train -m experiment=crnn_dhsd sweep=cv`
(or `cv.fold=0,1,2,3,4`) on any launcher (basic, local_parallel, slurm, ray_cluster).

`cv.fold=I` puts writer fold I of the labels CSV (`data.source.csv_path`; htr_lit/cv/folds.py: `cv.folds`
folds, `cv.val_writers` validation writers each, shuffled with `cv.seed`) into the data config before anything
loads: its test writers are tested on, its validation writers pick the best epoch, the rest train. The job
records its fold in metrics.json (`cv`), which the summary (htr_lit/cv/summary.py) reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from htr_lit.cv.folds import Fold, read_writers, writer_folds
from htr_lit.errors import ConfigError


def labels_csv(cfg: Any) -> Path:
    """The labels CSV the experiment reads (`data.source.csv_path` of the composed train config)."""
    path = OmegaConf.select(cfg, "data.source.csv_path")
    if not path:
        raise ConfigError(
            "writer cross-validation needs data.source.csv_path (a labels CSV with writer_id), "
            "e.g. experiment=crnn_dhsd or data=csv data.source.csv_path=..."
        )
    if not Path(path).is_file():
        raise ConfigError(f"{path}: labels CSV not found (set HTR_DHSD_DIR or data.source.csv_path; "
                          "`make fetch-dhsd` downloads DHSD into data/dhsd: then HTR_DHSD_DIR=data/dhsd)")
    return Path(path)


def fold_of(cfg: DictConfig) -> Fold | None:
    """The writer fold `cv.fold` names (None when the run is no cross-validation fold)."""
    index = OmegaConf.select(cfg, "cv.fold")
    if index is None:
        return None
    rows = read_writers(labels_csv(cfg))
    try:
        folds = writer_folds(list(rows), k=int(cfg.cv.folds), num_val=int(cfg.cv.val_writers), seed=int(cfg.cv.seed))
    except ValueError as e:
        raise ConfigError(f"cv: {e}") from e
    if not 0 <= int(index) < len(folds):
        raise ConfigError(f"cv.fold={index}: the folds are numbered 0..{len(folds) - 1} (cv.folds={len(folds)})")
    return folds[int(index)]


def apply_fold(cfg: DictConfig) -> Fold | None:
    """Set the data's test and validation writers to those of fold `cv.fold`; the fold, or None."""
    fold = fold_of(cfg)
    if fold is not None:
        with open_dict(cfg):
            cfg.data.source.test_writers = list(fold.test_writers)
            cfg.data.source.val_writers = list(fold.val_writers)
    return fold


def fold_record(fold: Fold, cfg: DictConfig) -> dict[str, Any]:
    """What metrics.json keeps of the fold (`cv`): enough for the summary to score its test writers."""
    return {
        "fold": fold.index,
        "folds": int(cfg.cv.folds),
        "seed": int(cfg.cv.seed),
        "test_writers": list(fold.test_writers),
        "val_writers": list(fold.val_writers),
    }
