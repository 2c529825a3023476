"""The word-confidence calibration (htr_lit/inference/calibration.py): features by hand, a fit that is monotone,
within [0, 1] and calibrated on data drawn from a logistic model, and predict reading it from the checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from htr_lit.analysis.confidence import expected_calibration_error
from htr_lit.inference import calibration


def test_word_features_by_hand() -> None:
    """Frames: a (0.9), a (0.6), blank (0.7), b (0.5) over classes (blank, a, b)."""
    p = torch.tensor([[0.05, 0.9, 0.05], [0.3, 0.6, 0.1], [0.7, 0.2, 0.1], [0.3, 0.2, 0.5]])
    f = calibration.word_features(p.log(), "ab")
    best = [0.9, 0.6, 0.7, 0.5]
    assert f[0] == pytest.approx(np.mean(np.log(best)), rel=1e-5)
    assert f[1] == pytest.approx(math.log(0.5), rel=1e-5)  # a's best frame 0.9, b's 0.5: the weakest is b
    margins = [math.log(0.9 / 0.05), math.log(0.6 / 0.3), math.log(0.7 / 0.2), math.log(0.5 / 0.3)]
    assert f[2] == pytest.approx(min(margins), rel=1e-5) and f[3] == pytest.approx(np.mean(margins), rel=1e-5)
    assert f[4] == pytest.approx(math.log(3))


def test_the_weakest_character_of_a_long_posterior_by_runs() -> None:
    """Runs blank, a, a, blank, a, b, b: a's runs peak at 0.8 and 0.6, b's at 0.7; the weakest is 0.6 (the second
    run of a counts on its own: CTC emits it again after the blank)."""
    best = [(0, 0.9), (1, 0.5), (1, 0.8), (0, 0.9), (1, 0.6), (2, 0.7), (2, 0.4)]
    p = torch.full((len(best), 3), 0.0)
    for t, (cls, prob) in enumerate(best):
        p[t] = (1 - prob) / 2
        p[t, cls] = prob
    assert calibration.word_features(p.log(), "aab")[1] == pytest.approx(math.log(0.6), rel=1e-5)
    assert calibration.word_features(torch.tensor([[0.9, 0.05, 0.05]]).log(), "")[1] == 0.0  # nothing emitted


def test_the_fit_is_monotone_bounded_and_calibrated() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, len(calibration.FEATURES)))
    truth = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))
    right = rng.random(4000) < truth
    record = calibration.fit(x[:2000].tolist(), right[:2000].tolist())
    p = calibration.probability(record, x[2000:].tolist())
    assert ((p >= 0) & (p <= 1)).all()
    assert expected_calibration_error(p, right[2000:]) < 0.05
    line = np.zeros((50, len(calibration.FEATURES)))
    line[:, 0] = np.linspace(-3, 3, 50)
    assert (np.diff(calibration.probability(record, line.tolist())) > 0).all()  # more of a good feature: higher


def test_predict_prints_the_checkpoints_calibrated_confidence(tiny_checkpoint, tmp_path, capsys) -> None:
    from htr_lit.checkpoint import read_checkpoint
    from htr_lit.predict import predict
    from tests.helpers import WORDS, compose_cfg, write_word_png

    ckpt = read_checkpoint(tiny_checkpoint())
    n = len(calibration.FEATURES)
    ckpt["htr_lit"][calibration.META_KEY] = {"features": list(calibration.FEATURES), "mean": [0.0] * n,
                                             "std": [1.0] * n, "weights": [0.0] * n, "bias": 1.0, "words": 10}
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    write_word_png(tmp_path / "in" / "a.png", WORDS[0])
    base = [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"input={tmp_path / 'in'}", "backend=torch", "format=jsonl"]
    assert predict(compose_cfg("predict", base)) == 0
    assert json.loads(capsys.readouterr().out)["confidence"] == round(1 / (1 + math.exp(-1.0)), 4)
    # another decoder: P(text | image) under CTC, not the calibration (fitted on greedy readings) nor exp of the
    # beam's score, which a length bonus lifts past 1
    assert predict(compose_cfg("predict", [*base, "decoder=beam", "decoder.insertion_bonus=5"])) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["confidence"] != round(1 / (1 + math.exp(-1.0)), 4) and 0.0 <= line["confidence"] <= 1.0
    from htr_lit.checkpoint import load_model
    from htr_lit.inference.scoring import Reader

    reader = Reader(tmp_path / "calibrated.ckpt")
    from htr_lit.inference.batching import load_window, read_batches

    images, _ = load_window([tmp_path / "in" / "a.png"], reader.pre)
    _, lps = read_batches(images, reader.backend, reader.decode, 1, keep_log_probs=True)
    model, _ = load_model(tmp_path / "calibrated.ckpt")
    index = {c: i for i, c in enumerate(model.charset.tokens) if c}
    assert line["confidence"] == round(math.exp(calibration.text_logp(lps[0], line["text"], index)), 4)


def test_ctc_confidence_by_hand_and_the_kinds() -> None:
    p = torch.tensor([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]])  # the two frames of the test below
    ctc = calibration.CtcConfidence(["", "a", "b"])
    assert ctc([p.log(), p.log()], ["a", "c"]) == pytest.approx([0.7 * 0.3 + 0.7 * 0.5 + 0.2 * 0.3, 0.0], abs=1e-6)
    assert calibration.confidence_kind(ctc) == "ctc" and calibration.confidence_kind(None) == "raw"
    record = {"features": ["log_length"], "mean": [0.0], "std": [1.0], "weights": [0.0], "bias": 0.0, "words": 1}
    assert calibration.confidence_kind(calibration.Calibration(record, ["", "a"])) == "calibrated"


def _two_writer_folds(tmp_path: Path, ckpt: Path) -> None:
    """tmp_path/labels.csv: writers w0 and w1 write every test word, three labels each naming another word;
    tmp_path/cv: two finished folds of `ckpt`, fold i testing writer wi."""
    from tests.helpers import WORDS, write_word_png

    lines = ["file_name,text,writer_id"]
    for w in range(2):
        for i, text in enumerate(WORDS):
            write_word_png(tmp_path / f"w{w}" / f"{i}.png", text)
            lines.append(f"w{w}/{i}.png,{WORDS[(i + 1) % len(WORDS)] if i < 3 else text},w{w}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for f in range(2):
        fold = tmp_path / "cv" / f"fold_{f}"
        fold.mkdir(parents=True)
        (fold / "metrics.json").write_text(json.dumps({"status": "ok", "best_ckpt": str(ckpt), "cv": {
            "fold": f, "folds": 2, "seed": 0, "test_writers": [f"w{f}"], "val_writers": []}}))


def test_out_of_fold_calibration_is_judged_cross_fitted_and_stored(tiny_checkpoint, tmp_path) -> None:
    """Two writer folds, each testing one writer with the tiny model (it reads its words right); three labels per
    writer name another word, so 14 of the 20 readings are right. Each fold is scored by the other fold's fit, the
    final fit takes all 20, and --into stores it in a copy of a checkpoint, which then loads."""
    from htr_lit.checkpoint import load_model
    from htr_lit.cv import calibrate

    _two_writer_folds(tmp_path, tiny_checkpoint())
    out = tmp_path / "records"
    assert calibrate.main(["--cv", str(tmp_path / "cv"), "--folds", "0,1", "--csv", str(tmp_path / "labels.csv"),
                           "--out", str(out), "--into", str(tmp_path / "cal.ckpt"),
                           "--into-from", str(tiny_checkpoint())]) == 0
    record = json.loads((out / "out_of_fold_0_1.json").read_text())
    pooled = record["cross_fitted_calibrated"]["pooled"]
    assert pooled["words"] == 20 and pooled["accuracy"] == pytest.approx(0.7)
    assert record["fit_on"]["words"] == record["calibration"]["words"] == 20
    assert set(record["cross_fitted_calibrated"]["per_writer"]) == {"w0", "w1"}
    errors = record["confident_errors"]  # the 6 wrong readings: each the right word against another word's label
    assert errors["words"] == 10 and errors["wrong"] <= 6 and sum(errors["by_edits"].values()) == errors["wrong"]
    assert all(e["reading"] != e["label"] for e in errors["most_confident"])
    model, _ = load_model(tmp_path / "cal.ckpt")
    assert model.htr_meta[calibration.META_KEY] == record["calibration"]
    with pytest.raises(SystemExit, match="at least two"):
        calibrate.main(["--cv", str(tmp_path / "cv"), "--folds", "0", "--csv", str(tmp_path / "labels.csv"),
                        "--out", str(out)])


def test_text_logp_sums_every_alignment_by_hand() -> None:
    """Two frames over (blank, a, b): "a" is emitted by the paths a-a, a-blank and blank-a."""
    p = torch.tensor([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]])
    want = 0.7 * 0.3 + 0.7 * 0.5 + 0.2 * 0.3
    tokens = ["", "a", "b"]
    index = {"a": 1, "b": 2}
    assert calibration.text_logp(p.log(), "a", index) == pytest.approx(math.log(want), rel=1e-5)
    assert calibration.text_logp(p.log(), "", index) == pytest.approx(math.log(0.2 * 0.5), rel=1e-5)
    assert calibration.text_logp(p.log(), "ab", index) == pytest.approx(math.log(0.7 * 0.2), rel=1e-5)
    assert calibration.text_logp(p.log(), "abab", index) == -1e4  # longer than the frames allow
    assert calibration.text_logp(p.log(), "c", index) == -1e4  # a character the model cannot write
    f = calibration.word_features(p.log(), "a", ("text_logp", "log_length"), tokens)
    assert f == pytest.approx([math.log(want), math.log(2)], rel=1e-5)


def test_known_names_and_their_lm() -> None:
    """A shipped place name is known; the LM finds a name likelier than its letters shuffled."""
    names = calibration.Names()
    assert "Berlin" in names.known and "Bxrqzn" not in names.known
    assert calibration.Names(["Qwertzhausen"]).known == {"Qwertzhausen"}
    assert names.lm_logp("Berlin") > names.lm_logp("lBnrie")
    assert names.lm_logp("Berlin") < 0
    lp = torch.tensor([[0.1, 0.9]]).log()
    assert calibration.word_features(lp, "Berlin", ("known_word", "lm_logp"), ["", "x"], names)[0] == 1.0
    with pytest.raises(ValueError, match="known names"):
        calibration.word_features(lp, "Berlin", ("known_word",), ["", "x"])


def test_calibrate_parses_feature_sets() -> None:
    from htr_lit.cv.calibrate import columns, feature_names

    assert feature_names("posterior") == calibration.POSTERIOR
    assert feature_names("posterior,text_logp,mean_margin") == (*calibration.POSTERIOR, "text_logp")
    assert feature_names("all") == calibration.PLAIN
    with pytest.raises(Exception, match="unknown features"):
        feature_names("posterior,shoe_size")
    row = list(range(len(calibration.FEATURE_NAMES)))
    assert columns([row], ("known_word", "mean_frame_logp")) == [[calibration.FEATURE_NAMES.index("known_word"), 0]]
    assert feature_names("all,stretch,decoder") == calibration.FEATURE_NAMES
    assert feature_names("decoder") == ("beam_margin",)


def test_predict_computes_the_text_features_a_calibration_names(tiny_checkpoint, tmp_path, capsys) -> None:
    """A calibration on the text features: predict fits the names LM of the shipped lists; a reading that is a
    known name (Köln) gets the known_word weight (here the only one), one that is not (Haus) does not."""
    from htr_lit.checkpoint import read_checkpoint
    from htr_lit.predict import predict
    from tests.helpers import compose_cfg, write_word_png

    ckpt = read_checkpoint(tiny_checkpoint())
    names = ["known_word", "lm_logp", "text_logp"]
    ckpt["htr_lit"][calibration.META_KEY] = {"features": names, "mean": [0.0] * 3, "std": [1.0] * 3,
                                             "weights": [2.0, 0.0, 0.0], "bias": -1.0, "words": 10}
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    known = calibration.Names().known
    assert "Köln" in known and "Haus" not in known
    for word in ("Köln", "Haus"):
        write_word_png(tmp_path / "in" / f"{word}.png", word)
    assert predict(compose_cfg("predict", [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"input={tmp_path / 'in'}",
                                           "backend=torch", "format=jsonl"])) == 0
    out = {Path(r["path"]).stem: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert out["Köln"]["text"] == "Köln" and out["Haus"]["text"] == "Haus"
    assert out["Köln"]["confidence"] == round(1 / (1 + math.exp(-1.0)), 4)
    assert out["Haus"]["confidence"] == round(1 / (1 + math.exp(1.0)), 4)


def test_trust_report_tables_calibration_and_audit_records(tmp_path, capsys) -> None:
    from htr_lit.cv import trust_report

    pooled = {"words": 10, "auroc": 0.8, "ece": 0.05, "accuracy_top50": 0.9, "accuracy_top80": 0.75}
    cal = {"calibration": {"features": ["text_logp", "log_length"]}, "cross_fitted_raw": {"pooled": {**pooled,
           "auroc": 0.7}}, "cross_fitted_calibrated": {"pooled": pooled}}
    part = {"flagged": 0.125, "recall": 0.5, "recall_by_kind": {"swap": 1.0, "typo": 0.0}, "threshold": 2.0}
    audit = {"rank": "nats", "val": part, "test": {**part, "recall": 0.75}}
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    (tmp_path / "audit.json").write_text(json.dumps(audit))
    assert trust_report.main([str(tmp_path / "cal.json"), str(tmp_path / "audit.json")]) == 0
    out = capsys.readouterr().out
    assert "| cal | plain | text_logp, log_length | 10 | n/a | 0.800 | 0.050 | 90.0 % | 75.0 % | 0.700 |" in out
    assert ("| audit | nats | 2.000 | 12.5 % | 50.0 % (swap 100.0 %, typo 0.0 %) | 12.5 % | 75.0 % (swap 100.0 %, "
            "typo 0.0 %) |") in out
    best = {**pooled, "best_accuracy_top50": 1.0, "best_accuracy_top80": 0.875}
    (tmp_path / "best.json").write_text(json.dumps({**cal, "cross_fitted_calibrated": {"pooled": best}}))
    assert trust_report.main([str(tmp_path / "best.json")]) == 0
    assert "| 90.0 % (of 100.0 %) | 75.0 % (of 87.5 %) |" in capsys.readouterr().out
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(SystemExit, match="neither"):
        trust_report.main([str(tmp_path / "other.json")])


def test_stretch_features_by_hand() -> None:
    """Three stretches read 'ab', 'ab', 'a'; fused, 'ab' scores -0.5: stretch_logp is that score, stretch_agree 2/3."""
    from htr_lit.decoding.base import Hypothesis
    from htr_lit.inference.tta import StretchReading

    lp = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]).log()
    view = StretchReading([Hypothesis("ab", -0.5), Hypothesis("a", -2.0)], ("ab", "ab", "a"), lp)
    f = calibration.word_features(lp, "ab", calibration.STRETCH, stretch=view)
    assert f == pytest.approx([-0.5, 2 / 3])
    assert StretchReading([], ("a",), lp).agreement == 0.0
    with pytest.raises(ValueError, match="width stretch"):
        calibration.word_features(lp, "ab", calibration.STRETCH)


def test_predict_with_tta_uses_the_calibration_fitted_on_its_stretches(tiny_checkpoint, tmp_path, capsys) -> None:
    """A tta calibration on stretch_agree alone: predict tta=true computes it (sigmoid(2 * agree - 1), agree the
    share of the 5 stretches reading the fused text); other factors find no calibration for them and print the raw
    fused score."""
    from htr_lit.checkpoint import read_checkpoint
    from htr_lit.inference.tta import DEFAULT_FACTORS
    from htr_lit.predict import predict
    from tests.helpers import WORDS, compose_cfg, write_word_png

    ckpt = read_checkpoint(tiny_checkpoint())
    ckpt["htr_lit"][calibration.TTA_KEY] = {"features": ["stretch_agree"], "mean": [0.0], "std": [1.0],
                                            "weights": [2.0], "bias": -1.0, "words": 10, "tta": list(DEFAULT_FACTORS)}
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    write_word_png(tmp_path / "in" / "a.png", WORDS[0])
    base = [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"input={tmp_path / 'in'}", "backend=torch", "format=jsonl"]
    assert predict(compose_cfg("predict", [*base, "tta=true"])) == 0
    calibrated = {round(1 / (1 + math.exp(1.0 - 2 * k / 5)), 4) for k in range(1, 6)}  # the fused text is one's
    assert json.loads(capsys.readouterr().out)["confidence"] in calibrated
    for other in (["tta=[0.9,1.0]"], []):  # other stretches, or none (no plain calibration here): the raw score
        assert predict(compose_cfg("predict", [*base, *other])) == 0
        assert json.loads(capsys.readouterr().out)["confidence"] not in calibrated


def test_a_calibration_for_other_readings_is_refused() -> None:
    from htr_lit.inference.batching import decode_with_confidence

    plain = calibration.Calibration({"features": ["log_length"], "mean": [0.0], "std": [1.0], "weights": [1.0],
                                     "bias": 0.0, "words": 1}, ["", "a"])
    from htr_lit.inference.tta import StretchFusion

    with pytest.raises(ValueError, match="fitted on stretches None"):
        decode_with_confidence([], None, None, 4, StretchFusion((0.9, 1.0), ["", "a"]), plain)


def test_beam_margin_and_runner_ups_by_hand() -> None:
    from htr_lit.decoding.base import Hypothesis

    assert calibration.beam_margin(-1.0, -3.5) == 2.5
    assert calibration.beam_margin(-1.0, None) == calibration.MARGIN_CAP  # no runner-up: out of sight
    assert calibration.beam_margin(-1.0, -100.0) == calibration.MARGIN_CAP
    assert calibration.beam_margin(-1.0, -0.5) == 0.0  # a decoder never ranks a lower score first; clipped anyway
    hyps = [[Hypothesis("ab", -1.0), Hypothesis("a", -2.0)], [Hypothesis("b", -0.1)], []]
    assert calibration.runner_ups(hyps) == [-2.0, None, None]
    lp = torch.tensor([[0.1, 0.8, 0.1]]).log()
    assert calibration.word_features(lp, "a", ("beam_margin",), score=-1.0, runner_up=-4.0) == [3.0]
    with pytest.raises(ValueError, match="decoder's score"):
        calibration.word_features(lp, "a", ("beam_margin",))


class _Model:
    """What word_confidence reads of a loaded model."""

    def __init__(self, meta: dict) -> None:
        self.htr_meta = meta
        self.charset = type("Charset", (), {"tokens": ["", "a", "b"]})()


def test_a_decoders_calibration_is_used_only_where_the_decoder_is_configured_alike() -> None:
    record = {"features": ["beam_margin"], "mean": [0.0], "std": [1.0], "weights": [1.0], "bias": 0.0, "words": 5,
              "decoder": "beam", "options": {"beam_width": 16, "lm_weight": 0.5, "top_n": 1, "lm_cache_dir": None}}
    model = _Model({calibration.DECODER_KEY: [record]})
    same = {"beam_width": 16.0, "lm_weight": 0.5, "top_n": 3, "lm_cache_dir": "elsewhere"}  # top_n, cache: no matter
    found = calibration.word_confidence(model, "beam", options=same)
    assert isinstance(found, calibration.Calibration) and found.top_n == 2
    assert calibration.confidence_kind(found) == "calibrated"
    for decoder, options in (("beam", {**same, "lm_weight": 0.8}), ("beam", {"beam_width": 16}),
                             ("lexicon", same)):
        assert isinstance(calibration.word_confidence(model, decoder, options=options), calibration.CtcConfidence)
    assert isinstance(calibration.word_confidence(model, "beam", (0.9, 1.0), same), calibration.CtcConfidence)
    assert calibration.word_confidence(model, "greedy") is None  # greedy: the plain calibration (none here)
    p = found([torch.zeros(2, 3), torch.zeros(2, 3)], ["a", "b"], scores=[-1.0, -1.0], runner_up=[-3.0, None])
    assert p == pytest.approx([1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(-calibration.MARGIN_CAP))])


def test_predict_eval_and_inspect_use_the_calibration_of_their_decoder(tiny_checkpoint, tmp_path, capsys) -> None:
    """A beam calibration on beam_margin alone (P = sigmoid(margin - 1)): predict decoder=beam keeps the runner-up
    although it prints one hypothesis, and gives exactly that; with another lm_weight the calibration does not
    apply and the confidence is P(text | image) under CTC. eval and inspect record the same kind."""
    from htr_lit.checkpoint import load_model, read_checkpoint
    from htr_lit.decoding.factory import build_decoder, decoder_options
    from htr_lit.inference.batching import load_window, read_batches
    from htr_lit.inference.scoring import Reader, decoder_spec
    from htr_lit.predict import predict
    from tests.helpers import WORDS, compose_cfg, write_word_png

    ckpt = read_checkpoint(tiny_checkpoint())
    options = decoder_options(decoder_spec("beam"))
    ckpt["htr_lit"][calibration.DECODER_KEY] = [{
        "features": ["beam_margin"], "mean": [0.0], "std": [1.0], "weights": [1.0], "bias": -1.0, "words": 10,
        "decoder": "beam", "decoder_conf": "beam", "options": options}]
    torch.save(ckpt, tmp_path / "calibrated.ckpt")
    write_word_png(tmp_path / "in" / "a.png", WORDS[1])
    base = [f"ckpt_path={tmp_path / 'calibrated.ckpt'}", f"input={tmp_path / 'in'}", "backend=torch", "format=jsonl",
            "decoder=beam"]
    assert predict(compose_cfg("predict", base)) == 0
    line = json.loads(capsys.readouterr().out)
    assert "hypotheses" not in line  # top_n stays 1 in the output
    reader = Reader(tmp_path / "calibrated.ckpt")
    images, _ = load_window([tmp_path / "in" / "a.png"], reader.pre)
    _, lps = read_batches(images, reader.backend, reader.decode, 1, keep_log_probs=True)
    model, _ = load_model(tmp_path / "calibrated.ckpt")
    hyps = build_decoder(decoder_spec("beam"), model.charset.tokens, model.htr_meta.get("train_texts"), top_n=2)(
        lps[0][None], torch.tensor([lps[0].shape[0]]))[0]
    margin = calibration.beam_margin(hyps[0].score, hyps[1].score if len(hyps) > 1 else None)
    assert line["text"] == hyps[0].text and line["confidence"] == round(1 / (1 + math.exp(1.0 - margin)), 4)
    assert predict(compose_cfg("predict", [*base, "decoder.lm_weight=0.7"])) == 0
    other = json.loads(capsys.readouterr().out)
    index = {c: i for i, c in enumerate(model.charset.tokens) if c}
    assert other["confidence"] == round(math.exp(calibration.text_logp(lps[0], other["text"], index)), 4)


def test_calibrate_fits_a_decoders_readings_and_stores_it_beside_the_others(tiny_checkpoint, tmp_path) -> None:
    """`--decoder beam`: the readings are the beam's (two hypotheses kept, for beam_margin), the raw confidence is
    P(text | image) under CTC, and --into adds the record with the decoder's name and options to the checkpoint's
    decoder calibrations (a second run replaces it) while its plain calibration stays; predict then uses it."""
    from htr_lit.checkpoint import load_model
    from htr_lit.cv import calibrate
    from htr_lit.decoding.factory import decoder_options
    from htr_lit.inference.scoring import decoder_spec

    _two_writer_folds(tmp_path, tiny_checkpoint())
    common = ["--cv", str(tmp_path / "cv"), "--folds", "0,1", "--csv", str(tmp_path / "labels.csv"), "--out",
              str(tmp_path / "records")]
    assert calibrate.main([*common, "--into", str(tmp_path / "plain.ckpt"), "--into-from", str(tiny_checkpoint())]) == 0
    for _ in range(2):
        assert calibrate.main([*common, "--decoder", "beam", "--features", "beam_margin,text_logp", "--into",
                               str(tmp_path / "both.ckpt"), "--into-from", str(tmp_path / "plain.ckpt")]) == 0
    record = json.loads((tmp_path / "records" / "out_of_fold_0_1_beam.json").read_text())
    assert record["decoder"] == "beam" and record["cross_fitted_calibrated"]["pooled"]["words"] == 20
    fitted = record["calibration"]
    assert fitted["features"] == ["beam_margin", "text_logp"] and fitted["decoder"] == "beam"
    assert fitted["decoder_conf"] == "beam" and fitted["options"] == decoder_options(decoder_spec("beam"))
    raw = record["cross_fitted_raw"]["pooled"]
    assert raw["auroc"] is None or 0.0 <= raw["auroc"] <= 1.0  # P(text | image): a probability, never exp(score)
    model, _ = load_model(tmp_path / "both.ckpt")
    assert model.htr_meta[calibration.DECODER_KEY] == [fitted]  # replaced, not added twice
    assert model.htr_meta[calibration.META_KEY]["features"] == list(calibration.FEATURES)
    found = calibration.word_confidence(model, "beam", options=decoder_options(decoder_spec("beam")))
    assert isinstance(found, calibration.Calibration) and found.record == fitted
    with pytest.raises(SystemExit, match="needs --decoder"):
        calibrate.main([*common, "--features", "beam_margin"])
    with pytest.raises(SystemExit, match="one or the other"):
        calibrate.main([*common, "--decoder", "beam", "--tta", "true"])
