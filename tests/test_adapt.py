"""htr-adapt: fine-tuning a recognizer on a few labelled words (htr_lit/adapt.py, htr_lit/adaptation/), the charset
growth for characters the model cannot write, the held-out split, and the k-curve's bookkeeping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from htr_lit.adapt import adapt
from htr_lit.adaptation.charset_growth import base_char, grow_charset, missing_chars
from htr_lit.adaptation.finetune import Recipe, Words
from htr_lit.adaptation.words import AdaptDataError, drop_suspect, read_words, split_holdout
from htr_lit.checkpoint import load_model
from htr_lit.cv.adapt_curve import pooled, writer_split
from htr_lit.data.preprocess import Preprocess
from htr_lit.data.sample import Sample
from tests.helpers import WORDS, compose_cfg, write_labels_csv, write_word_png

FAST = ["recipe.augment=none", "recipe.eval_every=10", "progress=false", "holdout=0"]


def other_hand(folder: Path, words: list[str]) -> Path:
    """`words` drawn 64 px high (the tiny models learnt them 32 px high: scaled down, the strokes differ) and
    folder/labels.csv listing them: a hand the tiny recognizer reads badly."""
    lines = ["file_name,text"]
    for i, text in enumerate(words):
        write_word_png(folder / f"{i}.png", text, height=64)
        lines.append(f"{i}.png,{text}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "labels.csv"


def adapt_cfg(labels: Path, out: Path, ckpt: Path, *overrides: str):
    return compose_cfg("adapt", [f"labels={labels}", f"out={out}", f"ckpt_path={ckpt}", *FAST, *overrides])


# ---- charset growth ------------------------------------------------------------------------------------------


def test_base_char_strips_marks_only():
    assert [base_char(c) for c in "éÅüßx"] == ["e", "A", "u", "ß", "x"]


def test_grown_rows_copy_the_bare_letter_or_start_unlikely(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint())
    head = model.head[-1]
    weight, bias = head.weight.detach().clone(), head.bias.detach().clone()
    chars = list(model.charset.chars)
    grow_charset(model, ["é", "Z"])
    grown = model.head[-1].requires_grad_(False)
    assert model.charset.chars == [*chars, "é", "Z"]
    assert grown.weight.shape[0] == weight.shape[0] + 2
    assert torch.equal(grown.weight[: len(weight)], weight) and torch.equal(grown.bias[: len(bias)], bias)
    e = chars.index("e") + 1  # row 0 is the blank
    assert torch.equal(grown.weight[-2], weight[e]) and grown.bias[-2] == pytest.approx(float(bias[e]) - 1.0)
    assert torch.allclose(grown.weight[-1], weight[1:].mean(dim=0))  # Z decomposes to nothing known: the mean row
    assert grown.bias[-1] == pytest.approx(float(bias[1:].min()))
    log_probs, _ = model(torch.zeros(1, 1, 32, 64), torch.tensor([64]))
    assert log_probs.shape[-1] == len(chars) + 3  # blank + old + 2 new


def test_missing_chars_sorted_and_unique(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint())
    expected = sorted({"C", "f", "é", "Z"} - set(model.charset.chars))
    assert missing_chars(model.charset, ["Café", "éZ", "Haus"]) == expected


# ---- the user's words ------------------------------------------------------------------------------------------


def test_split_holdout_is_seeded_and_needs_enough_words():
    words = Words([Sample(path=Path(f"{i}.png"), text=str(i)) for i in range(30)], [None] * 30)
    train, held = split_holdout(words, 0.2, 20, seed=0)
    assert len(held) == 6 and len(train) == 24
    assert not set(train.texts) & set(held.texts)
    assert held.texts == split_holdout(words, 0.2, 20, seed=0)[1].texts
    assert held.texts != split_holdout(words, 0.2, 20, seed=1)[1].texts
    assert split_holdout(Words(words.samples[:19], [None] * 19), 0.2, 20, seed=0)[1] is None
    assert len(split_holdout(Words(words.samples[:20], [None] * 20), 0.05, 20, seed=0)[1]) == 5  # at least 5


def test_bad_rows_are_all_named(tmp_path):
    labels = write_labels_csv(tmp_path, ["Haus", "Köln"])
    with labels.open("a", encoding="utf-8") as f:
        f.write("missing.png,Nord\n3.png,\n")
    with pytest.raises(AdaptDataError) as err:
        read_words(labels, Preprocess(img_height=32))
    message = str(err.value)
    assert "2 row(s) cannot be used" in message and "missing.png" in message and "labels.csv:5: empty" in message
    assert len(read_words(labels, Preprocess(img_height=32), on_error="skip")) == 2


def test_words_outside_the_csv_folder_need_the_users_say_so(tmp_path):
    write_labels_csv(tmp_path / "scans", ["Haus", "Köln"])
    listing = tmp_path / "lists" / "mine.csv"
    listing.parent.mkdir()
    listing.write_text(f"file_name,text\n../scans/0.png,Haus\n{tmp_path / 'scans' / '1.png'},Köln\n", encoding="utf-8")
    with pytest.raises(AdaptDataError, match="allow_absolute=true"):
        read_words(listing, Preprocess(img_height=32))
    assert read_words(listing, Preprocess(img_height=32), allow_absolute=True).texts == ["Haus", "Köln"]
    rooted = tmp_path / "lists" / "rooted.csv"
    rooted.write_text("file_name,text\n0.png,Haus\n", encoding="utf-8")
    assert read_words(rooted, Preprocess(img_height=32), image_root=tmp_path / "scans").texts == ["Haus"]


# ---- the recipe and the command ------------------------------------------------------------------------------


def test_recipe_refuses_unknown_choices():
    with pytest.raises(ValueError, match="recipe.train"):
        Recipe(train="encoder")
    with pytest.raises(ValueError, match="data.augment"):
        Recipe(augment="wild")
    assert Recipe(**{k: v for k, v in compose_cfg("adapt", ["labels=x", "out=y"]).recipe.items()
                     if k != "_target_"}) == Recipe()


@pytest.mark.slow  # predict reads the adapted checkpoint in a subprocess
def test_adaptation_lowers_the_loss_and_writes_a_checkpoint_predict_reads(tiny_checkpoint, tmp_path, one_thread):
    base = tiny_checkpoint()
    labels = other_hand(tmp_path / "mine", WORDS)
    record = adapt(adapt_cfg(labels, tmp_path / "out", base, "recipe.steps=20", "recipe.lr=3e-3",
                             "suspect_labels=null"))
    assert record["train_words"] == len(WORDS) and record["held_out_words"] == 0 and record["new_chars"] == []
    saved = json.loads((tmp_path / "out" / "adapt.json").read_text())
    assert saved["step"] == 20 and saved["base"] == str(base)
    model, _ = load_model(tmp_path / "out" / "adapted.ckpt")
    assert model.htr_meta["adaptation"]["train_words"] == len(WORDS)
    assert model.htr_meta["train_texts"][-len(WORDS):] == WORDS
    out = subprocess.run([sys.executable, "-m", "htr_lit.predict", f"input={tmp_path / 'mine' / '0.png'}",
                          f"ckpt_path={tmp_path / 'out' / 'adapted.ckpt'}", "backend=torch"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(tmp_path / "mine" / "0.png") + "\t")


@pytest.mark.train
def test_finetune_loss_falls_and_holdout_keeps_the_best_step(tiny_checkpoint, tmp_path, one_thread):
    from htr_lit.adaptation.finetune import finetune

    model, pre = load_model(tiny_checkpoint())
    words = read_words(other_hand(tmp_path, WORDS * 3), pre)
    train_words, held = split_holdout(words, 0.2, 20, seed=0)
    outcome = finetune(model, pre, train_words, held, Recipe(steps=40, lr=3e-3, augment="none", eval_every=10),
                       progress=False)
    first, last = sum(outcome.losses[:5]) / 5, sum(outcome.losses[-5:]) / 5
    assert last < 0.5 * first
    assert [c["step"] for c in outcome.curve] == [0, 10, 20, 30, 40]
    best = min(outcome.curve, key=lambda c: c["cer"])
    assert outcome.step == best["step"] and outcome.after["cer"] == pytest.approx(best["cer"], abs=1e-5)
    assert outcome.after["cer"] < 0.8 * outcome.before["cer"]


@pytest.mark.train
@pytest.mark.parametrize("select", ["loss", "cer_loss"])
def test_select_keeps_the_step_its_key_ranks_first(tiny_checkpoint, tmp_path, one_thread, select):
    from htr_lit.adaptation.finetune import finetune, loader, loss_per_char

    model, pre = load_model(tiny_checkpoint())
    words = read_words(other_hand(tmp_path, WORDS * 3), pre)
    train_words, held = split_holdout(words, 0.2, 20, seed=0)
    base_loss = loss_per_char(model, loader(held, model, pre, 64, None, 0))
    outcome = finetune(model, pre, train_words, held,
                       Recipe(steps=30, lr=3e-3, augment="none", eval_every=10, select=select), progress=False)
    assert [c["step"] for c in outcome.curve] == [0, 10, 20, 30]
    assert outcome.curve[0]["loss"] == pytest.approx(base_loss, abs=1e-4)  # step 0 is the base, read as such
    key = {"loss": lambda c: c["loss"], "cer_loss": lambda c: (c["cer"], c["loss"])}[select]
    assert outcome.step == min(outcome.curve, key=key)["step"]
    assert loss_per_char(model, loader(held, model, pre, 64, None, 0)) == pytest.approx(
        min(c["loss"] for c in outcome.curve if c["step"] == outcome.step), abs=1e-4)


@pytest.mark.train
def test_without_held_out_words_the_run_is_capped_at_steps_without_holdout(tiny_checkpoint, tmp_path, one_thread):
    from htr_lit.adaptation.run import adapt_words

    model, pre = load_model(tiny_checkpoint())
    words = read_words(write_labels_csv(tmp_path, WORDS), pre)
    recipe = Recipe(steps=12, steps_without_holdout=3, augment="none")
    done = adapt_words(model, pre, words, recipe, 0.2, 20, suspect_labels=None)  # too few words to hold any out
    assert done.held is None and done.outcome.step == 3 and len(done.outcome.losses) == 3
    model, pre = load_model(tiny_checkpoint())
    done = adapt_words(model, pre, words, recipe, 0.2, 5, refit=False, suspect_labels=None)  # some held out
    assert done.held is not None and done.outcome.curve[-1]["step"] == 12


def test_recipe_refuses_an_unknown_select():
    with pytest.raises(ValueError, match="recipe.select='wer'"):
        Recipe(select="wer")
    with pytest.raises(ValueError, match="steps_without_holdout >= 0"):
        Recipe(steps_without_holdout=-1)


@pytest.mark.train
def test_a_character_outside_the_charset_is_added_or_refused(tiny_checkpoint, tmp_path, one_thread):
    base = tiny_checkpoint()
    labels = write_labels_csv(tmp_path / "mine", ["Café", *WORDS])
    with pytest.raises(AdaptDataError, match=r"'Cfé'.*labels.csv:2"):
        adapt(adapt_cfg(labels, tmp_path / "refused", base, "new_chars=refuse"))
    assert not (tmp_path / "refused").exists()
    record = adapt(adapt_cfg(labels, tmp_path / "out", base, "recipe.steps=5"))
    assert record["new_chars"] == ["C", "f", "é"]
    model, _ = load_model(tmp_path / "out" / "adapted.ckpt")
    assert model.charset.chars[-3:] == ["C", "f", "é"]


@pytest.mark.train
def test_refit_trains_every_word_for_the_step_count_the_held_out_words_chose(tiny_checkpoint, tmp_path, one_thread):
    labels = other_hand(tmp_path / "mine", WORDS * 3)
    overrides = ["holdout=0.2", "min_holdout_words=20", "recipe.steps=30", "recipe.lr=3e-3",
                 "suspect_labels_for=small"]  # a hand the tiny model misreads: keep every word (the count is tested)
    held_only = adapt(adapt_cfg(labels, tmp_path / "held", tiny_checkpoint(), *overrides, "refit=false"))
    refit = adapt(adapt_cfg(labels, tmp_path / "refit", tiny_checkpoint(), *overrides))
    assert held_only["train_words"] == 24 and held_only["held_out_words"] == 6 and not held_only["refit"]
    assert refit["train_words"] == 30 and refit["words"] == 30 and refit["refit"]
    assert refit["after"] == held_only["after"] and refit["step"] == held_only["step"] > 0  # the same measured run
    a, _ = load_model(tmp_path / "held" / "adapted.ckpt")
    b, _ = load_model(tmp_path / "refit" / "adapted.ckpt")
    assert not torch.equal(a.head[-1].weight, b.head[-1].weight)  # the kept model trained again, on every word
    assert b.htr_meta["train_texts"][-30:] == WORDS * 3


def test_too_few_words_is_a_clear_error(tiny_checkpoint, tmp_path):
    labels = write_labels_csv(tmp_path, ["Haus", "Köln"])
    with pytest.raises(AdaptDataError, match="at least 5"):
        adapt(adapt_cfg(labels, tmp_path / "out", tiny_checkpoint()))


@pytest.mark.slow
def test_help_shows_an_example():
    out = subprocess.run([sys.executable, "-m", "htr_lit.adapt", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "htr-adapt labels=" in out.stdout and "adapted.ckpt" in out.stdout


def test_training_from_a_slim_checkpoint_points_to_htr_adapt(tiny_checkpoint, tmp_path):
    from htr_lit.checkpoint import CheckpointError
    from htr_lit.runs.resume import resolve_ckpt_path

    with pytest.raises(CheckpointError, match="htr-adapt labels=LABELS.csv"):
        resolve_ckpt_path(str(tiny_checkpoint()), False, tmp_path)


# ---- the k-curve's bookkeeping -------------------------------------------------------------------------------


def test_plot_series_start_at_the_unadapted_cer():
    from htr_lit.cv.adapt_plot import series

    record = {"rows": [{"writer": "a", "k": 25, "before": {"cer": 0.2}, "after": {"cer": 0.1}},
                       {"writer": "a", "k": 10, "before": {"cer": 0.2}, "after": {"cer": 0.15}}],
              "pooled": [{"k": 10, "cer_before": 0.2, "cer_after": 0.15},
                         {"k": 25, "cer_before": 0.2, "cer_after": 0.1}]}
    writers, total = series(record)
    assert writers == {"a": [(0, 20.0), (10, 15.0), (25, 10.0)]}
    assert total == [(0, 20.0), (10, 15.0), (25, 10.0)]


def test_writer_split_is_seeded_disjoint_and_nested():
    items = list(range(50))
    pool, scored = writer_split(items, 20, 0, "7")
    assert len(pool) == 20 and sorted(pool + scored) == items
    assert writer_split(items, 20, 0, "7") == (pool, scored)
    assert writer_split(items, 20, 0, "8")[0] != pool


def test_shifted_labels_are_planted_as_a_cycle_of_the_words_own_labels():
    from htr_lit.cv.adapt_curve import shift_labels

    words = Words([Sample(path=Path(f"{i}.png"), text=f"w{i}") for i in range(10)], [None] * 10)
    noisy, wrong = shift_labels(words, 0.3, seed=0)
    changed = [i for i in range(10) if noisy.texts[i] != words.texts[i]]
    assert wrong == len(changed) == 3
    assert sorted(noisy.texts) == sorted(words.texts)  # labels moved between rows, none invented
    assert [s.path for s in noisy.samples] == [s.path for s in words.samples]
    assert shift_labels(words, 0.3, seed=0)[0].texts == noisy.texts
    assert shift_labels(words, 0.0, seed=0) == (words, 0)


def test_pooled_weighs_writers_by_their_characters():
    rows = [{"writer": "a", "k": 10, "chars": 100, "before": {"cer": 0.2}, "after": {"cer": 0.1}, "time_s": 30},
            {"writer": "b", "k": 10, "chars": 300, "before": {"cer": 0.1}, "after": {"cer": 0.12}, "time_s": 50},
            {"writer": "a", "k": 25, "chars": 100, "before": {"cer": 0.2}, "after": {"cer": 0.05}, "time_s": 40}]
    p = pooled(rows, 10)
    assert p["cer_before"] == pytest.approx((20 + 30) / 400) and p["cer_after"] == pytest.approx((10 + 36) / 400)
    assert p["relative_reduction"] == pytest.approx(1 - 46 / 50, abs=1e-4)
    assert p["worst_writer_change"] == pytest.approx(0.2) and p["writers_worse"] == 1
    assert p["mean_writer_change"] == pytest.approx((-0.5 + 0.2) / 2)
    assert pooled(rows, 50) is None


def test_with_too_few_words_to_hold_out_a_wrong_label_is_left_out(tiny_checkpoint, tmp_path, caplog):
    """The tiny model reads its ten words right: among them, one labelled with another word's text is left out
    (and named) before training when nothing can be held out; suspect_labels=null keeps it."""
    import logging

    from htr_lit.adaptation.run import adapt_words

    model, pre = load_model(tiny_checkpoint())
    labels = write_labels_csv(tmp_path, WORDS)
    rows = labels.read_text(encoding="utf-8").splitlines()
    rows[3] = "2.png,Straße"  # the image of "über" labelled as another row's word
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    words = read_words(labels, pre)
    recipe = Recipe(steps=1, augment="none")
    with caplog.at_level(logging.WARNING, logger="htr_lit.adapt"):
        done = adapt_words(model, pre, words, recipe, 0.2, 20, suspect_labels=1.934)
    assert len(done.train) == len(WORDS) - 1 and "Straße" not in [s.text for s in done.train.samples[2:3]]
    assert "labels.csv:4: label 'Straße', read 'über'" in caplog.text
    model, pre = load_model(tiny_checkpoint())
    assert len(adapt_words(model, pre, words, recipe, 0.2, 20, suspect_labels=None).train) == len(WORDS)
    model, pre = load_model(tiny_checkpoint())  # enough words to hold some out: kept, unless suspect_for=all
    done = adapt_words(model, pre, words, recipe, 0.2, 5, refit=False, suspect_labels=1.934, suspect_for="small")
    assert done.held is not None and len(done.train) + len(done.held) == len(WORDS)
    model, pre = load_model(tiny_checkpoint())
    done = adapt_words(model, pre, words, recipe, 0.2, 5, refit=False, suspect_labels=1.934, suspect_for="all")
    assert done.held is not None and len(done.train) + len(done.held) == len(WORDS) - 1
    assert "Straße" not in [s.text for s in [*done.train.samples, *done.held.samples] if s.path.name == "2.png"]
    with pytest.raises(ValueError, match="suspect_for"):
        adapt_words(model, pre, words, recipe, 0.2, 5, suspect_labels=1.934, suspect_for="sometimes")
    other, _ = load_model(tiny_checkpoint())  # a hand the model reads badly: at most 30 % of the words go
    scrawl = read_words(other_hand(tmp_path / "scrawl", WORDS), pre)
    kept, dropped = drop_suspect(scrawl, other, pre, 0.0)
    assert len(dropped) == 3 and len(kept) == len(WORDS) - 3


def test_report_tables_by_hand():
    from htr_lit.cv.adapt_report import per_writer_table, recipe_table

    rows = [{"writer": "a", "k": 10, "scored": 20, "chars": 100, "before": {"cer": 0.2}, "after": {"cer": 0.1},
             "time_s": 30},
            {"writer": "b", "k": 10, "scored": 30, "chars": 300, "before": {"cer": 0.1}, "after": {"cer": 0.12},
             "time_s": 50}]
    record = {"settings": {"set": ["recipe.lr=1e-3"], "noise": 0.1}, "rows": rows, "pooled": [pooled(rows, 10)]}
    table = recipe_table({"x": record}).splitlines()
    assert table[-1] == "| x | `recipe.lr=1e-3` `--noise 0.1` | k=10: 12.50 -> 11.50 | 8.0 % | 1 of 2 | 50 |"
    lines = per_writer_table(record).splitlines()
    assert lines[2] == "| a | 20 | 20.00 | 10.00 |" and lines[3] == "| b | 30 | 10.00 | 12.00 |"
    assert lines[4] == "| pooled | 50 | **12.50** | **11.50** (-8.0 %) |"


def test_records_of_several_folds_pool_their_writers(tmp_path):
    """Two folds' records, one writer each: pooled per k with the errors summed (100 chars at 20 -> 10 %, 300 at
    10 -> 12 %: 12.5 -> 11.5 %), written as a record of its own."""
    from htr_lit.cv import adapt_report

    rows = [{"writer": "a", "k": 10, "scored": 20, "chars": 100, "before": {"cer": 0.2}, "after": {"cer": 0.1},
             "time_s": 30},
            {"writer": "b", "k": 10, "scored": 30, "chars": 300, "before": {"cer": 0.1}, "after": {"cer": 0.12},
             "time_s": 50}]
    for name, row in (("f1", rows[0]), ("f2", rows[1])):
        (tmp_path / f"{name}.json").write_text(json.dumps({"settings": {"set": []}, "rows": [row],
                                                           "pooled": [pooled([row], 10)]}))
    out = tmp_path / "pooled.json"
    assert adapt_report.main([str(tmp_path / "f1.json"), str(tmp_path / "f2.json"), "--pooled-out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["records"] == ["f1", "f2"] and record["writers"] == 2
    assert record["pooled"][0]["cer_before"] == 0.125 and record["pooled"][0]["cer_after"] == 0.115
    assert record["pooled"][0]["writers_worse"] == 1 and "--pooled-out" in record["command"]


@pytest.mark.train
def test_the_k_curve_runs_a_fold_and_continues_where_it_stopped(tiny_checkpoint, tmp_path, one_thread):
    from htr_lit.cv import adapt_curve

    lines = ["file_name,text,writer_id"]
    for i, text in enumerate(WORDS * 3):
        write_word_png(tmp_path / "w1" / f"{i}.png", text, height=64)
        lines.append(f"w1/{i}.png,{text},w1")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fold = tmp_path / "cv" / "fold_0"
    fold.mkdir(parents=True)
    (fold / "metrics.json").write_text(json.dumps({"status": "ok", "best_ckpt": str(tiny_checkpoint()), "cv": {
        "fold": 0, "folds": 2, "seed": 0, "test_writers": ["w1"], "val_writers": []}}))
    args = ["--cv", str(tmp_path / "cv"), "--fold", "0", "--pool", "10", "--csv", str(tmp_path / "labels.csv"),
            "--set", "recipe.steps=3", "recipe.augment=none", "--out", str(tmp_path / "curve.json")]
    assert adapt_curve.main([*args, "--k", "5"]) == 0
    record = json.loads((tmp_path / "curve.json").read_text())
    assert [(r["writer"], r["k"], r["scored"]) for r in record["rows"]] == [("w1", 5, 20)]
    assert record["pooled"][0]["writers"] == 1 and record["recipe"]["steps"] == 3
    first = record["rows"][0]
    assert adapt_curve.main([*args, "--k", "10"]) == 0  # k=5 kept, k=10 added
    record = json.loads((tmp_path / "curve.json").read_text())
    assert record["rows"][0] == first and [r["k"] for r in record["rows"]] == [5, 10]
    assert [p["k"] for p in record["pooled"]] == [5, 10]  # a run with other --k keeps the earlier k's figures
    assert [c.split("--k ")[-1] for c in record["commands"]] == ["5", "10"] and record["command"].endswith("10")
    with pytest.raises(SystemExit, match="other settings"):
        adapt_curve.main([*args[:-2], "--pool", "12", "--out", str(tmp_path / "curve.json"), "--k", "5"])
    record["recipe"]["lr"] = 0.5  # as a record made when conf/adapt.yaml had another learning rate
    (tmp_path / "curve.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match=r"another recipe \(lr: 0.5 -> 0.0003\)"):
        adapt_curve.main([*args, "--k", "5"])


def test_a_recipe_change_is_named_and_a_setting_new_to_the_recipe_is_not():
    from htr_lit.cv.adapt_curve import recipe_changes

    recorded = {"steps": 150, "lr": 3e-4, "select": "cer"}
    assert recipe_changes(recorded, {"steps": 300, "lr": 3e-4, "select": "cer", "steps_without_holdout": 150}) == [
        "steps: 150 -> 300"]
    assert recipe_changes(recorded, dict(recorded)) == []
