"""What a checkpoint was trained on, and whether a test set overlaps it: eval and inspect warn in one line
when the test rows include writers or images of the training split (their scores are then not those of
unseen writers).

A checkpoint records its training split's writers and images (`training_record`, stored by `build_meta`):
a writer as `<dataset folder>:<writer id>` (`dhsd:17`: writer ids are only unique within a dataset) and an
image as a 64-bit digest of its path relative to its labels file's folder (`images/writer17/17_3.png`),
so that the record holds no machine path and a copy of the same dataset elsewhere still matches. The
shipped recognizers predate the record; they are documented as trained on every row of DHSD's
labels.csv (conf/experiment/recognizer*.yaml), which stands in for it when that file is at hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from htr_lit.assets import MODELS_DIR
from htr_lit.data.sample import Sample

WRITERS_KEY, IMAGES_KEY = "train_writers", "train_images"
# Shipped checkpoints trained on all of DHSD (their experiment configs: train_csv = DHSD's labels.csv).
SHIPPED_ON_ALL_DHSD = ("recognizer", "recognizer_separable")
SHOWN_WRITERS = 8


def _labels_folder(sample: Sample) -> Path | None:
    """The folder of the file the sample's row came from (`origin` is `/data/dhsd/labels.csv:12`)."""
    source = sample.origin.rsplit(":", 1)[0] if sample.origin else ""
    return Path(source).parent if source else None


def writer_key(sample: Sample) -> str | None:
    """`dhsd:17` for writer 17 of a labels file in a folder named dhsd; None without a writer id."""
    if not sample.writer_id:
        return None
    folder = _labels_folder(sample)
    return f"{folder.name if folder else ''}:{sample.writer_id}"


def image_key(sample: Sample) -> str:
    """The image's path relative to its labels file's folder (`images/writer2/2_0.png`), else its name."""
    folder = _labels_folder(sample)
    path = Path(sample.path)
    if folder is not None and path.is_relative_to(folder):
        return path.relative_to(folder).as_posix()
    return path.name


def digest(key: str) -> int:
    """A signed 64-bit digest of an image key (first 8 bytes of its SHA-1)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big", signed=True)


def training_record(samples: Iterable[Sample]) -> dict[str, Any]:
    """The checkpoint entries for a training split: its writers (sorted) and its images' digests (sorted,
    int64 tensor: 8 bytes an image)."""
    samples = list(samples)
    writers = sorted({k for s in samples if (k := writer_key(s)) is not None})
    images = torch.tensor(sorted({digest(image_key(s)) for s in samples}), dtype=torch.int64)
    return {WRITERS_KEY: writers, IMAGES_KEY: images}


def _shipped_on_dhsd(ckpt_path: str | Path) -> bool:
    path = Path(ckpt_path).expanduser().resolve()
    return path.parent == MODELS_DIR.resolve() and path.stem in SHIPPED_ON_ALL_DHSD


def known_training(meta: Mapping[str, Any], ckpt_path: str | Path,
                   dhsd_dir: str | Path | None) -> tuple[set[str], set[int]] | None:
    """The training writers and image digests of a checkpoint, or None when it does not say: its own record,
    else (a shipped recognizer) every row of `dhsd_dir`/labels.csv when that file exists."""
    if WRITERS_KEY in meta and IMAGES_KEY in meta:
        return set(meta[WRITERS_KEY]), {int(d) for d in torch.as_tensor(meta[IMAGES_KEY]).tolist()}
    labels = Path(dhsd_dir) / "labels.csv" if dhsd_dir else None
    if not _shipped_on_dhsd(ckpt_path) or labels is None or not labels.is_file():
        return None
    from htr_lit.data.formats import read_labels_csv

    record = training_record(s for s in read_labels_csv(labels) if not s.problem)
    return set(record[WRITERS_KEY]), set(record[IMAGES_KEY].tolist())


def overlap_warning(meta: Mapping[str, Any], ckpt_path: str | Path, test: Sequence[Sample],
                    dhsd_dir: str | Path | None = None) -> str | None:
    """One line saying how many test writers and images the checkpoint was trained on; None when none (or
    when the checkpoint does not record its training data)."""
    known = known_training(meta, ckpt_path, dhsd_dir)
    if known is None or not test:
        return None
    writers, images = known
    test_writers = {k: s.writer_id for s in test if (k := writer_key(s)) is not None}
    seen_writers = sorted({test_writers[k] for k in test_writers if k in writers}, key=_natural)
    seen_images = sum(digest(image_key(s)) in images for s in test)
    if not seen_writers and not seen_images:
        return None
    parts = []
    if seen_writers:
        shown = ", ".join(seen_writers[:SHOWN_WRITERS]) + (", ..." if len(seen_writers) > SHOWN_WRITERS else "")
        parts.append(f"{len(seen_writers)} of its {len(set(test_writers.values()))} writers ({shown})")
    if seen_images:
        parts.append(f"{seen_images} of its {len(test)} images")
    return (f"the test set shares {' and '.join(parts)} with the training data of {Path(ckpt_path).name}: "
            "these scores are not those of unseen writers (for those, score a model that never saw them, "
            "e.g. a writer fold of make cv)")


def _natural(writer: str) -> tuple[int, str]:
    return (int(writer), "") if writer.isdigit() else (1 << 30, writer)
