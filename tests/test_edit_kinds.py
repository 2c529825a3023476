"""Error kinds: each edit's kind by hand, the breakdown's counts and counterfactual CER, and the out-of-fold command
on a tiny fold model."""

from __future__ import annotations

import json
import random

import pytest

from htr_lit.analysis.edit_kinds import KINDS, base_letter, breakdown, same_base, table, word_edits
from htr_lit.analysis.error_analysis import align, edit_distance
from htr_lit.cv import error_kinds
from tests.helpers import WORDS, write_finished_fold, write_two_writer_words


@pytest.mark.parametrize(("truth", "pred", "kinds"), [
    ("Käse", "Kase", ["diacritic"]),
    ("Übach", "Ubach", ["diacritic"]),
    ("Straße", "Strasse", ["diacritic", "extra"]),  # ß -> s and one s added
    ("Müller", "Muler", ["diacritic", "missing"]),  # ü -> u and an l missing, not ü missing and l -> u
    ("Berg", "berg", ["case"]),
    ("Ämter", "amter", ["diacritic"]),  # other mark and other case: the mark is the news
    ("Bad Ems", "BadEms", ["separator"]),
    ("Ost-Berg", "Ost.Berg", ["separator"]),
    ("Hof", "Hot", ["letter"]),
    ("Hof", "Ho", ["missing"]),
    ("Hof", "Hoff", ["extra"]),
    ("Hof", "Hof", []),
])
def test_each_edit_gets_its_kind(truth, pred, kinds) -> None:
    assert sorted(k for k, _ in word_edits(truth, pred)) == sorted(kinds)


def test_the_alignment_is_a_cheapest_edit_path() -> None:
    rng = random.Random(0)
    letters = "aäoöbsß -"
    for _ in range(500):
        truth, pred = ("".join(rng.choice(letters) for _ in range(rng.randint(0, 7))) for _ in range(2))
        ops = align(truth, pred, alike=same_base)
        assert "".join(op.truth for op in ops) == truth and "".join(op.pred for op in ops) == pred
        assert len(word_edits(truth, pred)) == edit_distance(truth, pred)


def test_base_letter() -> None:
    assert [base_letter(c) for c in "ÄöüßAé"] == ["a", "o", "u", "s", "a", "e"]


def test_breakdown_counts_and_counterfactual_cer() -> None:
    pairs = [("Käse", "Kase"), ("Hof", "Hot"), ("Berg", "Berg"), ("Müller", "Muler")]  # 4 + 3 + 4 + 6 = 17 chars
    out = breakdown(pairs)
    assert (out["words"], out["words_right"], out["chars"], out["edits"]) == (4, 1, 17, 4)
    assert out["cer"] == pytest.approx(4 / 17)
    dia, letter, missing = (out["kinds"][k] for k in ("diacritic", "letter", "missing"))
    assert (dia["edits"], letter["edits"], missing["edits"]) == (2, 1, 1)
    assert dia["share"] == pytest.approx(0.5) and dia["cer_without"] == pytest.approx(2 / 17)
    # Käse is wrong only by a mark; Müller by a mark and a missing l, so it is no kind's alone
    assert (dia["words_only_this"], letter["words_only_this"], missing["words_only_this"]) == (1, 1, 0)
    assert dia["most_common"] == [["ä", "a", 1], ["ü", "u", 1]]
    assert sum(out["kinds"][k]["edits"] for k in KINDS) == out["edits"]
    assert "| diacritic | 2 | 50.0 % | 11.76 |" in table(out)


def test_breakdown_of_nothing_is_zero() -> None:
    out = breakdown([])
    assert out["cer"] == 0.0 and all(out["kinds"][k]["share"] == 0.0 for k in KINDS)


def test_command_scores_each_fold_and_the_rows_not_flagged(tiny_checkpoint, tmp_path, one_thread) -> None:
    write_two_writer_words(tmp_path)
    write_finished_fold(tmp_path / "cv", tiny_checkpoint(), ["a", "b"])
    (tmp_path / "flagged.csv").write_text("file_name\nimg/0.png\n", encoding="utf-8")
    out = tmp_path / "kinds.json"
    assert error_kinds.main(["--cv", str(tmp_path / "cv"), "--flagged", str(tmp_path / "flagged.csv"), "--csv",
                             str(tmp_path / "labels.csv"), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    pooled = record["pooled"]
    assert pooled["all"]["words"] == len(WORDS) and pooled["not_flagged"]["words"] == len(WORDS) - 1
    assert pooled["all"]["chars"] == sum(map(len, WORDS))
    assert record["folds"][0]["all"] == pooled["all"]  # one fold: pooled is that fold
    assert record["decoder"] == "greedy" and record["command"].startswith("python -m htr_lit.cv.error_kinds")


def test_command_refuses_a_folder_without_finished_folds(tmp_path) -> None:
    (tmp_path / "cv").mkdir()
    with pytest.raises(SystemExit, match="no finished fold"):
        error_kinds.main(["--cv", str(tmp_path / "cv"), "--out", str(tmp_path / "k.json")])


def test_command_takes_decoder_settings_and_records_them(tiny_checkpoint, tmp_path, one_thread) -> None:
    write_two_writer_words(tmp_path, WORDS[:4], single_writer=True)
    write_finished_fold(tmp_path / "cv", tiny_checkpoint(), ["a"])
    out = tmp_path / "kinds.json"
    assert error_kinds.main(["--cv", str(tmp_path / "cv"), "--decoder", "beam", "--set", "lm_weight=0", "--set",
                             "beam_width=2", "--csv", str(tmp_path / "labels.csv"), "--out", str(out)]) == 0
    options = json.loads(out.read_text())["decoder_options"]
    assert (options["lm_weight"], options["beam_width"], options["insertion_bonus"]) == (0, 2, 0.0)
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        error_kinds.main(["--cv", str(tmp_path / "cv"), "--set", "lm_weight", "--out", str(out)])
