"""Dataset sources: each `data.source` option turns files on disk into train/val/test sample lists."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from htr_lit.data import formats, label_fixes, splits
from htr_lit.data.sample import Sample
from htr_lit.data.synth.spec import DEFAULT_NUM_WORKERS, SyntheticSpec
from htr_lit.data.synth.spec import DEFAULT_SPEC as _SPEC

Splits = dict[str, list[Sample]]


def _split(samples: list[Sample], val_fraction: float, test_fraction: float, seed: int,
           val_writers: Sequence[str] | None, test_writers: Sequence[str] | None) -> Splits:
    return splits.split_by_writer(
        samples, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        val_writers=val_writers, test_writers=test_writers,
    )


class SyntheticSource:
    """The built-in rendered word data: generated once under `root`, then reused. The arguments other than
    root, num_workers and max_train make its SyntheticSpec (defaults there)."""

    def __init__(self, root: str, num_train: int = _SPEC.num_train, num_val: int = _SPEC.num_val,
                 num_test: int = _SPEC.num_test, seed: int = _SPEC.seed, font_dir: str | Sequence[str] | None = None,
                 word_lists: Sequence[str] | None = None, height: int = _SPEC.height,
                 num_workers: int = DEFAULT_NUM_WORKERS, max_train: int | None = None,
                 style: str = _SPEC.style, canvas_width: int = _SPEC.canvas_width) -> None:
        self.root = Path(root)
        self.spec = SyntheticSpec(num_train=num_train, num_val=num_val, num_test=num_test, seed=seed,
                                  font_dir=font_dir, word_lists=word_lists, height=height, style=style,
                                  canvas_width=canvas_width)
        self.num_workers = num_workers
        self.max_train = max_train  # use only the first N training images (e.g. when mixed into real data)

    def prepare(self) -> None:
        from htr_lit.data.synth import (
            dataset as synthetic,  # imported here: rendering deps are only needed for this source
        )

        synthetic.ensure_dataset(self.root, self.spec, num_workers=self.num_workers)

    def load(self) -> Splits:
        self.prepare()
        splits = {k: formats.read_labels_csv(self.root / f"{k}.csv") for k in ("train", "val", "test")}
        splits["train"] = splits["train"][: self.max_train]
        return splits


class LabelsCSVSource:
    """A `file_name,text[,writer_id]` CSV split by writer, or explicit train/val/test CSVs."""

    def __init__(self, csv_path: str | None = None, train_csv: str | None = None, val_csv: str | None = None,
                 test_csv: str | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 val_writers: Sequence[str] | None = None, test_writers: Sequence[str] | None = None,
                 split_seed: int = 0, image_root: str | None = None, allow_absolute: bool = False,
                 drop_rows: str | None = None, relabel_rows: str | None = None) -> None:
        if csv_path is None and train_csv is None and test_csv is None:
            raise ValueError("data.source: give csv_path (split by writer) or train_csv/val_csv/test_csv")
        self.csv_path, self.train_csv, self.val_csv, self.test_csv = csv_path, train_csv, val_csv, test_csv
        self.split_args = (val_fraction, test_fraction, split_seed, val_writers, test_writers)
        self.image_root, self.allow_absolute = image_root, allow_absolute
        self.drop_rows, self.relabel_rows = drop_rows, relabel_rows  # cleaned labels: htr_lit/data/label_fixes.py

    def _read(self, csv_path: str) -> list[Sample]:
        return formats.read_labels_csv(csv_path, image_root=self.image_root, allow_absolute=self.allow_absolute)

    def prepare(self) -> None:
        pass

    def load(self) -> Splits:
        if self.csv_path is not None:
            vf, tf, seed, vw, tw = self.split_args
            loaded = _split(self._read(self.csv_path), vf, tf, seed, vw, tw)
        else:
            loaded = {k: self._read(p) if p else []
                      for k, p in (("train", self.train_csv), ("val", self.val_csv), ("test", self.test_csv))}
        main_csv = self.csv_path or self.train_csv or self.test_csv
        root = Path(self.image_root).expanduser() if self.image_root else Path(str(main_csv)).parent
        return label_fixes.clean_splits(loaded, root, self.drop_rows, self.relabel_rows)


class IAMSource:
    """IAM words (`words.txt` + `words/` tree) with split id lists (e.g. the RWTH/Aachen partition)."""

    def __init__(self, words_txt: str, images_root: str | None = None, train_ids: str | None = None,
                 val_ids: str | None = None, test_ids: str | None = None, skip_err: bool = False,
                 forms_txt: str | None = None) -> None:
        self.words_txt, self.images_root, self.skip_err, self.forms_txt = words_txt, images_root, skip_err, forms_txt
        self.ids = {"train": train_ids, "val": val_ids, "test": test_ids}

    def prepare(self) -> None:
        pass

    def load(self) -> Splits:
        out: Splits = {}
        for split, ids in self.ids.items():
            out[split] = [] if ids is None else formats.read_iam_words(
                self.words_txt, self.images_root, split_ids=ids, skip_err=self.skip_err, forms_txt=self.forms_txt)
        return out


class GTFolderSource:
    """Images with `<stem>.gt.txt` transcriptions beside them: one folder split by writer (parent
    folder name), or one folder per split."""

    def __init__(self, folder: str | None = None, train_dir: str | None = None, val_dir: str | None = None,
                 test_dir: str | None = None, writer_from_parent: bool = False, val_fraction: float = 0.1,
                 test_fraction: float = 0.1, split_seed: int = 0) -> None:
        self.folder, self.writer_from_parent = folder, writer_from_parent
        self.dirs = {"train": train_dir, "val": val_dir, "test": test_dir}
        self.split_args = (val_fraction, test_fraction, split_seed)

    def prepare(self) -> None:
        pass

    def load(self) -> Splits:
        if self.folder is not None:
            vf, tf, seed = self.split_args
            samples = formats.read_gt_folder(self.folder, writer_from_parent=self.writer_from_parent)
            return _split(samples, vf, tf, seed, None, None)
        return {k: formats.read_gt_folder(d) if d else [] for k, d in self.dirs.items()}
