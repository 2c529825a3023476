"""The label audit (htr_lit/analysis/label_audit.py, `htr-data audit`): the CTC likelihood of a label against
hand-computed answers, and planted wrong labels found first on a user's own set read by a tiny model."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from htr_lit import data_cli
from htr_lit.analysis import label_audit
from tests.helpers import WORDS, write_word_png


def test_label_nll_is_ctc_by_hand() -> None:
    """Two frames over (blank, a, b): P("a") = p(a)p(-) + p(-)p(a) + p(a)p(a); "ab" only as a then b; "aa" needs a
    blank between the two a's, so three frames: impossible here (inf); an unknown character: inf."""
    p = torch.tensor([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])
    got = label_audit.label_nll(p.log(), ["a", "ab", "aa", "c"], {"a": 1, "b": 2})
    assert got[0] == pytest.approx(-math.log(0.3 * 0.4 + 0.5 * 0.4 + 0.3 * 0.4), rel=1e-5)
    assert got[1] == pytest.approx(-math.log(0.3 * 0.2), rel=1e-5)
    assert got[2] == math.inf and got[3] == math.inf


def test_cer_split_by_hand() -> None:
    """'Haus' read 'Hans' (1 edit of 4), 'Ort' read right, 'Weg' read 'Wege' (1 of 3) and flagged; an unusable
    row is not a reading."""
    v = [label_audit.Verdict("a.png", "Haus", "Hans", 0.1, "typo", "", "w"),
         label_audit.Verdict("b.png", "Ort", "Ort", 0.0, "ok", "", "w"),
         label_audit.Verdict("c.png", "Weg", "Wege", 2.0, "typo", "", "w"),
         label_audit.Verdict("d.png", "X", "", math.inf, "unusable row (line 5)", "", "w")]
    split = label_audit.cer_split(v, [v[2]])
    assert split["all"] == {"rows": 3, "cer": pytest.approx(2 / 10)}
    assert split["not_flagged"] == {"rows": 2, "cer": pytest.approx(1 / 7)}
    assert split["flagged"] == {"rows": 1, "cer": pytest.approx(1 / 3)}


def test_edit_distance() -> None:
    assert label_audit.edit_distance("Straße", "Strase") == 1
    assert label_audit.edit_distance("", "abc") == 3 and label_audit.edit_distance("kitten", "sitting") == 3


def test_planted_wrong_labels_come_first(tiny_checkpoint, tmp_path: Path) -> None:
    """A tiny model that reads its ten words judges three writers' copies of them: two labels swapped within a
    writer come first as `shifted` (each suggesting the other's label), a one-letter typo next as `typo`; no
    right label is flagged at the default rank (nats_lm) and threshold."""
    ckpt = tiny_checkpoint()
    rows = []
    for w in range(3):
        for i, text in enumerate(WORDS):
            write_word_png(tmp_path / f"w{w}" / f"{i}.png", text)
            rows.append({"file_name": f"w{w}/{i}.png", "text": text, "writer_id": f"w{w}"})
    rows[0]["text"], rows[1]["text"] = rows[1]["text"], rows[0]["text"]  # Haus <-> Straße, writer w0
    rows[15]["text"] = "tast"  # a typo of "test"
    with (tmp_path / "labels.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file_name", "text", "writer_id"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "flagged.csv"
    summary = tmp_path / "summary.json"
    assert data_cli.main(["audit", str(tmp_path / "labels.csv"), "--ckpt", str(ckpt), "--out", str(out),
                          "--summary", str(summary)]) == 0
    record = json.loads(summary.read_text(encoding="utf-8"))
    assert (record["rows"], record["flagged"], record["rank"]) == (30, 3, label_audit.DEFAULT_RANK)
    assert record["cer"]["not_flagged"] == {"rows": 27, "cer": 0.0}  # the model reads every image right
    assert record["cer"]["flagged"]["rows"] == 3 and record["cer"]["flagged"]["cer"] > 0.5
    with out.open(encoding="utf-8") as f:
        flagged = list(csv.DictReader(f))
    assert [r["file_name"] for r in flagged[:2]] in (["w0/0.png", "w0/1.png"], ["w0/1.png", "w0/0.png"])
    assert {r["kind"] for r in flagged[:2]} == {"shifted"}
    by_name = {r["file_name"]: r for r in flagged}
    assert by_name["w0/0.png"]["suggestion"] == "Haus" and by_name["w0/1.png"]["suggestion"] == "Straße"
    assert flagged[2]["file_name"] == "w1/5.png" and flagged[2]["kind"] == "typo"
    assert flagged[2]["suggestion"] == "test"
    assert float(flagged[2]["nats"]) + float(flagged[2]["lm_nats"]) >= label_audit.THRESHOLDS["nats_lm"]  # the default
    assert len(flagged) == 3  # the 27 right labels stay below the threshold
    ranked_all = tmp_path / "all.csv"
    assert data_cli.main(["audit", str(tmp_path / "labels.csv"), "--ckpt", str(ckpt), "--out", str(ranked_all),
                          "--all"]) == 0
    scores = [float(r["score"]) for r in csv.DictReader(ranked_all.open(encoding="utf-8"))]
    assert len(scores) == 30 and scores == sorted(scores, reverse=True)
    typo_row = by_name["w1/5.png"]  # nats: the same evidence in all, not per character of "tast"
    assert float(typo_row["nats"]) == pytest.approx(4 * float(typo_row["score"]), abs=2e-3)
    by_nats = tmp_path / "by_nats.csv"
    assert data_cli.main(["audit", str(tmp_path / "labels.csv"), "--ckpt", str(ckpt), "--out", str(by_nats),
                          "--all", "--rank", "nats"]) == 0
    nats = [float(r["nats"]) for r in csv.DictReader(by_nats.open(encoding="utf-8"))]
    assert len(nats) == 30 and nats == sorted(nats, reverse=True) and nats != sorted(nats)
    with_lm = tmp_path / "by_nats_lm.csv"
    assert data_cli.main(["audit", str(tmp_path / "labels.csv"), "--ckpt", str(ckpt), "--out", str(with_lm),
                          "--all", "--rank", "nats_lm"]) == 0
    rows_lm = list(csv.DictReader(with_lm.open(encoding="utf-8")))
    both = [float(r["nats"]) + float(r["lm_nats"]) for r in rows_lm]
    assert both == sorted(both, reverse=True)
    assert {r["file_name"]: float(r["lm_nats"]) for r in rows_lm}["w1/5.png"] > 0  # "tast": a less likely name


def test_lm_nats_weigh_the_label_against_the_reading_as_names() -> None:
    names = label_audit._names()
    assert label_audit.lm_nats(names, "Bxrlin", "Berlin") > 0 > label_audit.lm_nats(names, "Berlin", "Bxrlin")
    assert label_audit.lm_nats(names, "Berlin", "Berlin") == 0
    assert ")" not in names.lm.vocab and label_audit.lm_nats(names, "Groß Kreutz (Havel)", "Groß Kreutz (Havel") == 0
    v = label_audit.Verdict("a.png", "Bxrlin", "Berlin", 0.5, "typo", "Berlin", None, 3.0, 2.5)
    assert label_audit.rank_value(v, "nats_lm") == 5.5 and label_audit.rank_value(v, "score") == 0.5
    with pytest.raises(ValueError, match="rank by one of"):
        label_audit.rank_value(v, "shoe_size")


def test_with_writer_folds_each_fold_model_judges_only_its_test_writers(tiny_checkpoint, tmp_path: Path,
                                                                       caplog) -> None:
    import json

    ckpt = tiny_checkpoint()
    lines = ["file_name,text,writer_id"]
    for w in range(2):
        for i, text in enumerate(WORDS[:4]):
            write_word_png(tmp_path / f"w{w}" / f"{i}.png", text)
            lines.append(f"w{w}/{i}.png,{text},w{w}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fold = tmp_path / "cv" / "fold_0"
    fold.mkdir(parents=True)
    (fold / "metrics.json").write_text(json.dumps({"status": "ok", "best_ckpt": str(ckpt), "cv": {
        "fold": 0, "folds": 2, "seed": 0, "test_writers": ["w1"], "val_writers": []}}))
    out = tmp_path / "all.csv"
    assert data_cli.main(["audit", str(tmp_path / "labels.csv"), "--cv", str(tmp_path / "cv"), "--out", str(out),
                          "--all"]) == 0
    judged = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(r["file_name"] for r in judged) == [f"w1/{i}.png" for i in range(4)]  # w0: no fold tested it
    assert any("4 of 8 rows belong to writers no model left out" in r.getMessage() for r in caplog.records)
    with pytest.raises(SystemExit):
        data_cli.main(["audit", str(tmp_path / "labels.csv"), "--cv", str(tmp_path), "--out", str(out)])


def test_planting_makes_each_kind_of_wrong_label_and_the_threshold_is_chosen_by_share() -> None:
    import random

    from htr_lit.cv import audit_planted as ap

    rows = [label_audit.LabelRow(f"{w}/{i}.png", text, w, Path(f"{w}/{i}.png"))
            for w in ("a", "b") for i, text in enumerate(["Haus", "Am Markt", "Lange Straße", "Köln", "Nord"])]
    planted_rows, planted = ap.plant(rows, 6, random.Random(0))
    assert sorted(planted.values()) == ["swap", "swap", "truncated", "truncated", "typo", "typo"]
    before, after = {r.file_name: r for r in rows}, {r.file_name: r for r in planted_rows}
    for name, kind in planted.items():
        old, new = before[name].text, after[name].text
        if kind == "truncated":
            assert new == " ".join(old.split()[:-1])
        elif kind == "typo":
            assert label_audit.edit_distance(old, new) == 1
        else:  # swapped with another row of the same writer
            assert new in [r.text for r in rows if r.writer_id == before[name].writer_id] and new != old
    assert {n for n in before if n not in planted} == {n for n in after if before[n].text == after[n].text}
    verdicts = [label_audit.Verdict(f"{i}", "", "", s, "", "", None) for i, s in enumerate([5.0, 3.0, 1.0, 0.0])]
    threshold = ap.choose_threshold(verdicts, 0.5)  # at most 2 of 4 rows flagged
    assert sum(v.score >= threshold for v in verdicts) == 2
    result = ap.evaluate(verdicts, {"0": "typo", "2": "swap"}, threshold)
    assert result["flagged"] == 0.5 and result["recall"] == 0.5 and result["recall_by_kind"]["typo"] == 1.0
    by_nats = [label_audit.Verdict(f"{i}", "", "", 0.0, "", "", None, n) for i, n in enumerate([0.0, 1.0, 9.0, 4.0])]
    threshold = ap.choose_threshold(by_nats, 0.25, "nats")
    result = ap.evaluate(by_nats, {"2": "typo"}, threshold, "nats")
    assert result["flagged"] == 0.25 and result["recall"] == 1.0
    assert result["values"] == [[9.0, "typo"], [4.0, None], [1.0, None], [0.0, None]]  # most suspicious first


def _planted_record(fold: int, val: list, test: list, rank: str = "nats_lm") -> dict:
    return {"fold": fold, "rank": rank, "val": {"writers": ["v"], "values": val}, "test": {"writers": ["t"],
                                                                                          "values": test}}


def test_one_threshold_chosen_on_the_pooled_validation_rows_scores_every_fold(tmp_path: Path) -> None:
    from htr_lit.cv import audit_pooled as apo

    a = _planted_record(0, [[9.0, "swap"], [2.0, None], [1.0, None], [0.5, None]],
                        [[8.0, "typo"], [3.0, "swap"], [1.5, None], [0.1, None]])
    b = _planted_record(1, [[None, "truncated"], [6.0, None], [4.0, "typo"], [0.0, None]],
                        [[5.0, None], [2.5, "typo"], [0.2, None], [0.0, None]])
    # pooled val values 9, 2, 1, 0.5, inf, 6, 4, 0: at most 3 of 8 flagged -> inf, 9, 6 flagged, threshold just above 4
    result = apo.pooled([a, b], 3 / 8, also=[2.0])
    chosen, given = result["thresholds"]
    assert result["val"]["threshold"] == pytest.approx(4.0) and result["val"]["flagged"] == 3 / 8
    assert result["val"]["found"] == pytest.approx(2 / 3, abs=1e-5) and result["val"]["found_by_kind"]["typo"] == 0.0
    assert chosen["test_by_fold"]["0"] == {"rows": 4, "flagged": 0.25, "planted": 2, "found": 0.5,
                                           "found_by_kind": {"swap": 0.0, "typo": 1.0, "truncated": 0.0}}
    assert chosen["test"]["flagged"] == 0.25 and chosen["test"]["found"] == pytest.approx(1 / 3, abs=1e-5)
    assert given["threshold"] == 2.0 and given["test"]["found"] == 1.0 and given["test"]["flagged"] == 0.5
    with pytest.raises(ValueError, match="differently"):
        apo.pooled([a, _planted_record(1, [], [], rank="score")], 0.1)
    with pytest.raises(ValueError, match="fold\\(s\\) 1"):
        apo.pooled([a, {"fold": 1, "rank": "nats_lm", "val": {}, "test": {}}], 0.1)
    good = tmp_path / "fold0.json"
    good.write_text(json.dumps(a))
    with pytest.raises(SystemExit, match="missing.json: not an audit_planted record"):
        apo.main([str(good), str(tmp_path / "missing.json"), "--out", str(tmp_path / "pooled.json")])
    assert apo.main([str(good), str(good), "--max-flagged", "0.25", "--out", str(tmp_path / "pooled.json")]) == 0
    written = json.loads((tmp_path / "pooled.json").read_text())
    assert written["command"].startswith("python -m htr_lit.cv.audit_pooled") and written["val"]["flagged"] == 0.25


def test_the_audit_weighs_each_label_against_the_decoders_reading(tiny_checkpoint, tmp_path: Path) -> None:
    """`audit(..., decoder=D)`: the reading a label is weighed against is D's (here one that reads every image as
    Haus), so the other words' rows no longer agree, yet their right labels cost nothing (nats 0: the image makes
    each label likelier than Haus); without a decoder it is the greedy reading (every label agrees)."""
    from htr_lit.decoding.base import Hypothesis
    from htr_lit.inference.scoring import Reader

    rows = []
    for i, text in enumerate(WORDS[:3]):
        write_word_png(tmp_path / f"{i}.png", text)
        rows.append(label_audit.LabelRow(f"{i}.png", text, "w", tmp_path / f"{i}.png"))
    reader = Reader(tiny_checkpoint())

    def always_haus(log_probs, lengths):
        return [[Hypothesis("Haus", -1.0)] for _ in range(log_probs.shape[0])]

    greedy = label_audit.audit(rows, reader)
    assert [v.kind for v in greedy] == ["agrees"] * 3
    haus = label_audit.audit(rows, reader, decoder=always_haus)
    assert [v.predicted for v in haus] == ["Haus"] * 3
    assert [v.kind == "agrees" for v in haus] == [t == "Haus" for t in WORDS[:3]]
    assert all(v.nats == 0.0 for v in haus) and any(v.kind != "agrees" for v in haus)
