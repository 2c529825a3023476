"""Confidence figures against hand-computed answers (htr_lit/analysis/confidence.py)."""

from __future__ import annotations

import pytest

from htr_lit.analysis import confidence as c


def test_auroc_by_hand() -> None:
    assert c.auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0  # perfectly separated
    assert c.auroc([0.1, 0.9], [True, False]) == 0.0
    # right: 0.9, 0.3; wrong: 0.5, 0.3 -> pairs (0.9>0.5) 1, (0.9>0.3) 1, (0.3<0.5) 0, (0.3=0.3) 0.5: 2.5 / 4
    assert c.auroc([0.9, 0.5, 0.3, 0.3], [True, False, True, False]) == pytest.approx(0.625)
    assert c.auroc([0.5, 0.6], [True, True]) is None


def test_ece_and_accuracy_of_the_most_confident_by_hand() -> None:
    conf = [0.95, 0.95, 0.15, 0.15]
    ok = [True, False, False, False]
    # bin 9: mean conf 0.95, accuracy 0.5 -> 0.45 x 2; bin 1: 0.15 vs 0 -> 0.15 x 2; / 4 = 0.30
    assert c.expected_calibration_error(conf, ok) == pytest.approx(0.30)
    assert c.expected_calibration_error([1.0, 0.0], [True, False]) == 0.0  # 1.0 falls in the top bin
    assert c.accuracy_of_most_confident([0.9, 0.8, 0.2, 0.1], [True, False, True, False], 0.5) == 0.5
    report = c.confidence_report([0.9, 0.8, 0.2, 0.1], [True, True, False, False])
    assert report["accuracy_top50"] == 1.0 and report["accuracy"] == 0.5 and report["auroc"] == 1.0
    assert report["risk_coverage"][-1] == {"coverage": 1.0, "accuracy": 0.5}


def test_best_accuracy_of_the_most_confident_is_what_a_perfect_ranking_reaches() -> None:
    ok = [True, False, False, True, False, False, False, False, False, False]  # 2 of 10 right
    assert c.best_accuracy_of_most_confident(ok, 0.5) == pytest.approx(2 / 5)  # at most 2 right among 5 kept
    assert c.best_accuracy_of_most_confident(ok, 0.2) == 1.0
    perfect = [1.0 if k else 0.0 for k in ok]
    assert c.accuracy_of_most_confident(perfect, ok, 0.5) == c.best_accuracy_of_most_confident(ok, 0.5)
    report = c.confidence_report([0.9, 0.8, 0.2, 0.1], [True, False, True, False])
    assert report["best_accuracy_top50"] == 1.0 and report["best_accuracy_top80"] == pytest.approx(2 / 3)


def test_confident_errors_counts_the_wrong_words_of_the_most_confident_half_by_edits() -> None:
    conf = [0.99, 0.95, 0.9, 0.8, 0.2, 0.1]
    readings = ["Köthen", "Grunstraße", "Roßwein", "Löben", "Loben", "x"]
    labels = ["Köthen", "Grünstraße", "Goßberg", "Löben", "Löben", "y"]
    ok = [r == lab for r, lab in zip(readings, labels)]
    found = c.confident_errors(conf, ok, readings, labels, ["1", "2", "3", "4", "5", "6"], share=0.5)
    assert (found["words"], found["wrong"]) == (3, 2)  # the two wrong among the three most confident
    assert found["by_edits"] == {"1": 1, "2": 0, "3+": 1}  # ü -> u one edit; Roßwein / Goßberg four
    assert [(e["reading"], e["writer"], e["edits"]) for e in found["most_confident"]] == [
        ("Grunstraße", "2", 1), ("Roßwein", "3", 4)]


def test_eval_records_the_confidence_of_every_test_word(tiny_checkpoint, tmp_path) -> None:
    """htr-eval keeps the decoder's best hypothesis of every test row in the loop's order: the share of them that
    are exactly right is the run's own word accuracy, and the figures land in metrics.json."""
    import json

    from htr_lit.eval import evaluate
    from tests.helpers import compose_cfg, write_writer_labels

    csv_path = write_writer_labels(tmp_path / "data", height=32)
    cfg = compose_cfg("eval", [f"ckpt_path={tiny_checkpoint()}", f"test_csv={csv_path}"], tmp_path / "run")
    metrics = evaluate(cfg)
    report = metrics["confidence"]
    assert report["words"] == 30 and report["accuracy"] == pytest.approx(metrics["test/word_acc"])
    assert 0.0 <= report["ece"] <= 1.0 and len(report["risk_coverage"]) == 20
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["confidence"]["words"] == 30


def test_eval_and_inspect_use_the_checkpoints_calibration(tiny_checkpoint, tmp_path) -> None:
    """A calibration that gives every word P = 0.5 (zero weights, zero bias): eval's confidence is then that
    probability, so its ECE is |accuracy - 0.5| (one bin), and the inspect page says it is calibrated."""
    import torch

    from htr_lit.checkpoint import read_checkpoint
    from htr_lit.eval import evaluate
    from htr_lit.inference.calibration import FEATURES, META_KEY
    from htr_lit.inspect import inspect
    from tests.helpers import compose_cfg, write_writer_labels

    ckpt = read_checkpoint(tiny_checkpoint())
    n = len(FEATURES)
    ckpt["htr_lit"][META_KEY] = {"features": list(FEATURES), "mean": [0.0] * n, "std": [1.0] * n,
                                 "weights": [0.0] * n, "bias": 0.0, "words": 1}
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    csv_path = write_writer_labels(tmp_path / "data", height=32)
    common = [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"test_csv={csv_path}"]
    report = evaluate(compose_cfg("eval", common, tmp_path / "run"))["confidence"]
    assert report["kind"] == "calibrated"
    assert report["ece"] == pytest.approx(abs(report["accuracy"] - 0.5), abs=1e-9)
    beam = evaluate(compose_cfg("eval", [*common, "decoder=beam"], tmp_path / "beam"))["confidence"]
    assert beam["kind"] == "ctc"  # another decoder: P(text | image) under CTC, not the greedy calibration
    inspect(compose_cfg("inspect", common, tmp_path / "page"))
    assert "calibrated on writers the model never trained on" in (tmp_path / "page" / "inspect.html").read_text()
    # a calibration of beam readings (P = 0.5 again, on beam_margin): used by eval and inspect with decoder=beam
    # as configured, not with another lm_weight
    from htr_lit.decoding.factory import decoder_options
    from htr_lit.inference.calibration import DECODER_KEY
    from htr_lit.inference.scoring import decoder_spec

    ckpt["htr_lit"][DECODER_KEY] = [{"features": ["beam_margin"], "mean": [0.0], "std": [1.0], "weights": [0.0],
                                     "bias": 0.0, "words": 1, "decoder": "beam",
                                     "options": decoder_options(decoder_spec("beam"))}]
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    beam = evaluate(compose_cfg("eval", [*common, "decoder=beam"], tmp_path / "beam2"))["confidence"]
    assert beam["kind"] == "calibrated" and beam["ece"] == pytest.approx(abs(beam["accuracy"] - 0.5), abs=1e-9)
    other = evaluate(compose_cfg("eval", [*common, "decoder=beam", "decoder.lm_weight=0.9"], tmp_path / "beam3"))
    assert other["confidence"]["kind"] == "ctc"
    inspect(compose_cfg("inspect", [*common, "decoder=beam"], tmp_path / "page2"))
    assert "calibrated on writers the model never trained on" in (tmp_path / "page2" / "inspect.html").read_text()


def test_eval_with_tta_records_the_fused_readings_confidence(tiny_checkpoint, tmp_path) -> None:
    """With tta, eval judges the fused readings: raw (their fused probability) without a calibration for the
    stretches, calibrated with one (P = 0.5 for every word here: ECE |accuracy - 0.5|), the accuracy always the
    run's own word accuracy."""
    import torch

    from htr_lit.checkpoint import read_checkpoint
    from htr_lit.eval import evaluate
    from htr_lit.inference.calibration import TTA_KEY
    from tests.helpers import compose_cfg, write_writer_labels

    csv_path = write_writer_labels(tmp_path / "data", height=32)
    raw = evaluate(compose_cfg("eval", [f"ckpt_path={tiny_checkpoint()}", f"test_csv={csv_path}", "tta=[0.9,1.0]"],
                               tmp_path / "raw"))
    assert raw["confidence"]["kind"] == "raw" and raw["confidence"]["words"] == 30
    assert raw["confidence"]["accuracy"] == pytest.approx(raw["test/word_acc"])
    ckpt = read_checkpoint(tiny_checkpoint())
    ckpt["htr_lit"][TTA_KEY] = {"features": ["stretch_agree", "stretch_logp"], "mean": [0.0] * 2, "std": [1.0] * 2,
                                "weights": [0.0] * 2, "bias": 0.0, "words": 1, "tta": [0.9, 1.0]}
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    common = [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"test_csv={csv_path}"]
    report = evaluate(compose_cfg("eval", [*common, "tta=[0.9,1.0]"], tmp_path / "cal"))["confidence"]
    assert report["kind"] == "calibrated" and report["accuracy"] == pytest.approx(raw["test/word_acc"])
    assert report["ece"] == pytest.approx(abs(report["accuracy"] - 0.5), abs=1e-9)
    assert evaluate(compose_cfg("eval", common, tmp_path / "plain"))["confidence"]["kind"] == "raw"  # no plain one


def test_predict_marks_the_words_below_review_below(tiny_checkpoint, tmp_path, capsys, caplog) -> None:
    import json

    from htr_lit.errors import ConfigError
    from htr_lit.predict import predict
    from tests.helpers import WORDS, compose_cfg, write_word_png

    for i, word in enumerate(WORDS[:4]):
        write_word_png(tmp_path / "in" / f"{i}.png", word)
    base = [f"ckpt_path={tiny_checkpoint()}", f"input={tmp_path / 'in'}", "backend=torch"]
    assert predict(compose_cfg("predict", [*base, "format=jsonl", "review_below=1.0"])) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["review"] for r in records] == [r["confidence"] < 1.0 for r in records] and len(records) == 4
    assert any("4 of 4 words have a confidence below review_below=1" in r.getMessage() for r in caplog.records)
    assert predict(compose_cfg("predict", [*base, "review_below=0"])) == 0
    assert [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()] == ["ok"] * 4
    with pytest.raises(ConfigError, match="review_below=1.5"):
        predict(compose_cfg("predict", [*base, "review_below=1.5"]))
