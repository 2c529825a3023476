"""Tests for the synthetic word data: fonts, word lists, rendering, deterministic generation, reuse, CLI.

Only a handful of images are rendered (the machine is shared with training jobs).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra.utils import instantiate

from htr_lit.data.sources import SyntheticSource
from htr_lit.data.synth import cli as synth_cli
from htr_lit.data.synth import dataset as synthetic
from htr_lit.data.synth.fonts import LOWERCASE, FontError, FontInfo, find_fonts
from htr_lit.data.synth.render import render_word
from htr_lit.data.synth.spec import GENERATOR_VERSION, SyntheticSpec
from htr_lit.data.synth.words import DEFAULT_WORD_LISTS, WordListError, WordSampler, clean_words, load_word_lists
from tests.helpers import compose_cfg


@pytest.fixture(scope="module")
def fonts() -> list[FontInfo]:
    try:
        return find_fonts()
    except FontError as err:
        pytest.skip(f"default handwriting fonts not installed: {err}")


@pytest.fixture()
def word_list(tmp_path: Path) -> Path:
    """A tiny word list (fast to load) with umlauts, ß and junk to be filtered."""
    path = tmp_path / "words.txt"
    path.write_text("Haus\nStraße\nÖl\nmüde\nhello\nworld's\nnaïve\nzebra\nquick\n", encoding="utf-8")
    return path


@pytest.fixture()
def spec(word_list: Path) -> SyntheticSpec:
    """A tiny dataset: 5 + 2 + 2 images of 48 px from the tiny word list."""
    return SyntheticSpec(num_train=5, num_val=2, num_test=2, seed=3, height=48, word_lists=[word_list])


def _pixels(root: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(root).as_posix(): cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            for p in sorted((root / "images").rglob("*.png"))}


# ----------------------------------------------------------------------------------------------- spec


def test_spec_is_the_one_default_of_cli_source_and_config(tmp_path: Path) -> None:
    assert synth_cli.spec_from_args(synth_cli._parser().parse_args([])) == SyntheticSpec()
    assert SyntheticSource(str(tmp_path)).spec == SyntheticSpec()
    cfg = compose_cfg("train", ["data=synthetic"], tmp_path)  # no rendering: the source is only built
    assert instantiate(cfg.data.source).spec == SyntheticSpec()


def test_default_spec_identity_matches_the_datasets_already_on_disk() -> None:
    """meta.json of datasets made before SyntheticSpec stores exactly this: they must still be reused."""
    assert list(SyntheticSpec().identity().items()) == [
        ("generator_version", "htr-lit-synth/1"), ("num_train", 16000), ("num_val", 1000), ("num_test", 1000),
        ("seed", 0), ("font_dir", None), ("word_lists", None), ("height", 64),
    ]


def test_spec_normalises_paths_and_rejects_bad_values() -> None:
    spec = SyntheticSpec(num_train="7", font_dir=Path("/f"), word_lists=[Path("/a"), "/b"])
    assert spec == SyntheticSpec(num_train=7, font_dir="/f", word_lists=("/a", "/b"))
    assert (spec.identity()["font_dir"], spec.identity()["word_lists"]) == ("/f", ["/a", "/b"])
    assert SyntheticSpec(word_lists=[], font_dir=()).identity() == SyntheticSpec().identity()  # empty: defaults
    with pytest.raises(ValueError, match="height must be at least 8 pixels, got 4"):
        SyntheticSpec(height=4)
    with pytest.raises(ValueError, match="image counts cannot be negative: num_val=-1"):
        SyntheticSpec(num_val=-1)


# ----------------------------------------------------------------------------------------------- fonts


def test_default_fonts_cover_lowercase_and_know_their_missing_glyphs(fonts: list[FontInfo]) -> None:
    assert len(fonts) >= 5
    assert all(LOWERCASE <= f.chars for f in fonts)
    by_name = {f.name: f for f in fonts}
    assert "dkgIt" not in by_name and "dkgBI" not in by_name  # excluded: illegible overlaps


@pytest.mark.parametrize(
    ("name", "drawable", "not_drawable"),
    [
        ("Rufscript010", "muede", "müde"),  # its cmap has no umlauts
        ("femkeklaver", "müde", "ß"),  # its cmap maps ß to an empty glyph
    ],
)
def test_fonts_without_a_visible_glyph_are_known(fonts: list[FontInfo], name, drawable, not_drawable) -> None:
    by_name = {f.name: f for f in fonts}
    if name not in by_name:
        pytest.skip(f"font {name} not installed")
    assert by_name[name].supports(drawable) and not by_name[name].supports(not_drawable)


def test_find_fonts_searches_user_dir_recursively(fonts: list[FontInfo], tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    shutil.copy(fonts[0].path, tmp_path / "sub" / "mine.ttf")
    found = find_fonts(tmp_path)
    assert [f.name for f in found] == ["mine"] and found[0].chars == fonts[0].chars


def test_find_fonts_without_fonts_explains_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "not_a_font.ttf").write_bytes(b"junk")
    with pytest.raises(FontError) as err:
        find_fonts(tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "make system-deps" in message and "data.source.font_dir" in message


# ----------------------------------------------------------------------------------------------- words


def test_clean_words_filters_and_deduplicates() -> None:
    lines = ["Haus", "cat's", "Straße", "naïve", "x" * 21, "Haus", "  Öl ", "a-b", "", "I", "3D"]
    assert clean_words(lines) == ["Haus", "Straße", "Öl", "I"]


def test_missing_word_list_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(WordListError, match="make system-deps") as err:
        load_word_lists([missing])
    assert str(missing) in str(err.value)


@pytest.mark.skipif(not all(p.is_file() for p in DEFAULT_WORD_LISTS.values()), reason="wamerican/wngerman missing")
def test_default_word_lists_are_split_by_language() -> None:
    lists = load_word_lists()
    assert set(lists) == {"en", "de"} and min(map(len, lists.values())) > 10000
    assert any("ß" in w for w in lists["de"]) and not any("'" in w for w in lists["en"])


def test_word_sampler_mixes_kinds_deterministically() -> None:
    lists = {"en": ["house", "quick", "a", "zebra"], "de": ["Haus", "Straße", "Öl", "müde", "über"]}
    sampler = WordSampler(lists)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    texts = [sampler.sample(rng_a) for _ in range(3000)]
    assert texts == [WordSampler(lists).sample(rng_b) for _ in range(3000)]
    assert any(t.isdigit() for t in texts) and any(t.isupper() and len(t) > 1 for t in texts)
    assert any(t in ("House", "Quick", "Zebra") for t in texts)
    assert any(c in "".join(texts) for c in "äöüß") and any(t[-1] in ",.!?" and t[0].isalpha() for t in texts)
    assert 0.4 < sum(t.lower() in ("house", "quick", "a", "zebra") for t in texts) / 3000 < 0.5


# ----------------------------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("height", [64, 32])
def test_render_word_is_dark_on_light_with_exact_height(fonts: list[FontInfo], height: int) -> None:
    image = render_word("Straße", fonts[0], np.random.default_rng(0), height=height)
    assert image.dtype == np.uint8 and image.ndim == 2 and image.shape[0] == height
    assert height < image.shape[1] < 12 * height
    assert np.median(image) > 150 and image.min() < 120  # mostly paper, some ink
    again = render_word("Straße", fonts[0], np.random.default_rng(0), height=height)
    assert np.array_equal(image, again)


# ----------------------------------------------------------------------------------------------- generation


def test_generate_is_deterministic_and_independent_of_workers(tmp_path: Path, spec: SyntheticSpec) -> None:
    a = synthetic.generate(tmp_path / "a", spec, num_workers=1, progress=False)
    b = synthetic.generate(tmp_path / "b", spec, num_workers=2, progress=False)
    for split in ("train", "val", "test"):
        assert (a / f"{split}.csv").read_bytes() == (b / f"{split}.csv").read_bytes()
    pa, pb = _pixels(a), _pixels(b)
    assert pa.keys() == pb.keys() and len(pa) == 9
    assert all(np.array_equal(pa[k], pb[k]) and pa[k].shape[0] == 48 for k in pa)

    with open(a / "train.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file_name", "text", "font"] and len(rows) == 5
    assert all((a / r["file_name"]).is_file() and r["text"] for r in rows)
    meta = json.loads((a / "meta.json").read_text(encoding="utf-8"))
    assert meta["args"] == spec.identity() and meta["counts"] == {"train": 5, "val": 2, "test": 2}
    assert meta["args"]["seed"] == 3 and meta["args"]["word_lists"] == [str(spec.word_lists[0])]
    assert meta["generator_version"] == GENERATOR_VERSION and meta["fonts"]
    assert sum(meta["font_counts"]["train"].values()) == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".a.tmp")]


def _generate_in_worker(root: Path, spec: SyntheticSpec) -> str:
    import multiprocessing as mp

    before = mp.get_start_method(allow_none=True)
    synthetic.generate(root, spec, num_workers=2, progress=False)
    assert mp.get_start_method(allow_none=True) == before  # the worker's own start method is given back
    return (root / "train.csv").read_text(encoding="utf-8")


@pytest.mark.slow
def test_generate_with_a_pool_inside_a_loky_worker(tmp_path: Path, spec: SyntheticSpec) -> None:
    """Hydra's local_parallel launcher (`python -m htr_lit.cv --jobs 2`) runs each job in a joblib/loky worker,
    whose default start method ('loky') a pool's child cannot resolve; the data a recipe mixes in must still
    generate there."""
    joblib = pytest.importorskip("joblib")
    parallel = joblib.Parallel(n_jobs=2, backend="loky", timeout=120)
    got = parallel([joblib.delayed(_generate_in_worker)(tmp_path / "w", spec)])
    reference = synthetic.generate(tmp_path / "ref", spec, num_workers=1, progress=False)
    assert got == [(reference / "train.csv").read_text(encoding="utf-8")]


def test_ensure_dataset_reuses_and_rejects_other_arguments(tmp_path: Path, spec: SyntheticSpec) -> None:
    root = tmp_path / "synth"
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(
            synthetic.ensure_dataset(root, spec, num_workers=1, progress=False)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [root, root] and (root / "meta.json").is_file()
    stamp = (root / "meta.json").stat().st_mtime_ns
    assert synthetic.ensure_dataset(root, spec, num_workers=2, progress=False) == root
    assert (root / "meta.json").stat().st_mtime_ns == stamp  # reused, not regenerated

    with pytest.raises(synthetic.DatasetMismatchError, match="seed") as err:
        synthetic.ensure_dataset(root, replace(spec, seed=4), progress=False)
    assert "num_train" not in str(err.value) and str(root) in str(err.value)


def test_generate_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path, spec: SyntheticSpec) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        synthetic.generate(tmp_path, spec, num_workers=1, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.tmp")] == []


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_help_and_preview(tmp_path: Path, word_list: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        synth_cli.main(["--help"])
    assert exit_info.value.code == 0 and "--num-train" in capsys.readouterr().out
    assert synth_cli.main(["--out", str(tmp_path), "--preview", "4", "--word-list", str(word_list)]) == 0
    sheet = cv2.imread(str(tmp_path / "preview.png"), cv2.IMREAD_GRAYSCALE)
    assert sheet is not None and sheet.shape[0] > 64
    with pytest.raises(SystemExit) as exit_info:
        synth_cli.main(["--out", str(tmp_path), "--num-val", "-1"])
    assert exit_info.value.code == 2 and "num_val=-1" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_runs_as_a_module() -> None:
    """`python -m htr_lit.data.synth` (the Makefile's `make data`) still reaches the command line."""
    done = subprocess.run([sys.executable, "-m", "htr_lit.data.synth", "--help"], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0 and "usage: htr-synth" in done.stdout and "--num-train" in done.stdout
