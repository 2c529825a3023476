"""`decoder=...` at eval and predict time on the session's tiny checkpoint (no retraining per decoder): every
decoder must read the words the model reads without an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from htr_lit.config import CONFIG_DIR
from htr_lit.decoding.beam import BeamSearchDecoder
from htr_lit.decoding.factory import DecoderConfigError, build_decoder, decoder_name
from htr_lit.eval import evaluate
from htr_lit.predict import predict
from tests.helpers import WORDS, compose_cfg, write_writer_labels
from tests.test_e2e import run_cli

DECODERS = sorted(p.stem for p in (Path(CONFIG_DIR) / "decoder").glob("*.yaml"))  # every decoder= option
SMALL_DATA = ["data.num_workers=0", "data.eval_batch_size=8"]


@pytest.fixture(scope="module")
def tiny_ckpt(tiny_checkpoint, tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, labels.csv): the session's tiny dilated model, which reads `WORDS` without an error, and 3
    writers x those words drawn as it was trained on them."""
    return tiny_checkpoint(), write_writer_labels(tmp_path_factory.mktemp("data"), height=32)


@pytest.fixture(scope="module")
def old_ckpt(tiny_ckpt, tmp_path_factory) -> Path:
    """The same checkpoint as saved before `train_texts` existed."""
    ckpt = torch.load(tiny_ckpt[0], map_location="cpu", weights_only=True)
    del ckpt["htr_lit"]["train_texts"]
    path = tmp_path_factory.mktemp("old") / "old.ckpt"
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def slim_ckpt(tiny_ckpt, tmp_path_factory) -> Path:
    """The same checkpoint shipped slim: `train_texts: []` (scripts/ship_model.py)."""
    ckpt = torch.load(tiny_ckpt[0], map_location="cpu", weights_only=True)
    ckpt["htr_lit"]["train_texts"] = []
    path = tmp_path_factory.mktemp("slim") / "slim.ckpt"
    torch.save(ckpt, path)
    return path


def small_names_lm(cache_dir: Path) -> list[str]:
    """decoder=beam_names shrunk for tests: 500 names, no word list, its cache under `cache_dir`."""
    return ["decoder.lm_num_names=500", "decoder.lm_word_lists=[]", f"decoder.lm_cache_dir={cache_dir}"]


def run_eval(ckpt: Path, labels: Path, out: Path, *overrides: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    evaluate(compose_cfg("eval", [f"ckpt_path={ckpt}", f"test_csv={labels}", *SMALL_DATA, *overrides], out))
    return json.loads((out / "metrics.json").read_text())


def predict_cfg(ckpt: Path, inputs: Path, *overrides: str) -> DictConfig:
    return compose_cfg("predict", [f"ckpt_path={ckpt}", f"input={inputs}", *overrides])


@pytest.mark.parametrize("name", DECODERS)
def test_eval_records_the_decoder(tiny_ckpt, tmp_path, name):
    assert set(DECODERS) >= {"greedy", "beam", "lexicon", "closest"}
    shrink = small_names_lm(tmp_path / "lm_cache") if name == "beam_names" else []
    metrics = run_eval(*tiny_ckpt, tmp_path, f"decoder={name}", *shrink)
    presets = {"lexicon_wordlists": "lexicon", "beam_names": "beam"}
    assert metrics["decoder"] == presets.get(name, name)  # presets name their factory
    # The model reads its words without an error (greedy: 0 % CER): no decoder may lose that.
    assert metrics["test/cer"] <= 0.02 and metrics["test/word_acc"] >= 0.95, metrics
    assert metrics["test/wer"] == pytest.approx(1 - metrics["test/word_acc"])  # one word an image
    assert metrics["decode_ms_per_image"] > 0.0
    assert metrics["decoder_options"]["top_n"] == 1


def test_eval_with_test_time_stretch(tiny_ckpt, tmp_path):
    plain = run_eval(*tiny_ckpt, tmp_path / "plain")
    one = run_eval(*tiny_ckpt, tmp_path / "one", "tta=[1.0]")  # one unstretched reading: the plain figures
    assert plain["tta"] is None and one["tta"] == [1.0]
    for key in ("test/cer", "test/wer", "test/word_acc"):
        assert one[key] == pytest.approx(plain[key]), key
    five = run_eval(*tiny_ckpt, tmp_path / "five", "tta=true", "decoder=beam")
    assert five["tta"] == [0.8, 0.9, 1.0, 1.1, 1.2]
    # The stretched readings take part: this tiny model, fitted to one width of each word, misreads the stretched
    # copies (38-40 % CER fused), where the unstretched reading alone is exact.
    assert plain["test/cer"] <= 0.02 and five["test/cer"] > plain["test/cer"] + 0.1, (plain, five)


def test_lm_weight_zero_is_plain_beam_search(tiny_ckpt, old_ckpt, tmp_path):
    # No LM is built (the old checkpoint has no texts to build one from), and the metrics match.
    with_texts = run_eval(*tiny_ckpt, tmp_path / "a", "decoder=beam", "decoder.lm_weight=0")
    without = run_eval(old_ckpt, tiny_ckpt[1], tmp_path / "b", "decoder=beam", "decoder.lm_weight=0")
    keys = ("test/cer", "test/wer", "test/word_acc")
    assert [with_texts[k] for k in keys] == [without[k] for k in keys]


def test_lm_weight_zero_decodes_like_a_beam_without_lm():
    tokens = ["", *"abcdef"]
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(4, 20, len(tokens), generator=g).mul(3).log_softmax(-1)
    lengths = torch.tensor([20, 15, 9, 1])
    cfg = compose_cfg("eval", ["decoder=beam", "decoder.lm_weight=0"], Path(".")).decoder
    got = build_decoder(cfg, tokens, train_texts=None, top_n=5)(lp, lengths)
    expected = BeamSearchDecoder(tokens, beam_width=16, top_n=5)(lp, lengths)
    assert got == expected
    assert decoder_name(cfg) == "beam"


def test_predict_lexicon_prints_n_best_with_descending_scores(tiny_ckpt, tmp_path, capsys):
    ckpt, labels = tiny_ckpt
    assert predict(predict_cfg(ckpt, labels.parent / "w0", "decoder=lexicon", "top_n=3")) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert rows and all(len(r) == 3 for r in rows)
    by_path: dict[str, list[float]] = {}
    for path, _text, score in rows:
        by_path.setdefault(path, []).append(float(score))
    assert len(by_path) == len(WORDS)
    for scores in by_path.values():
        assert 1 <= len(scores) <= 3
        assert scores == sorted(scores, reverse=True)


def test_predict_jsonl_lists_hypotheses_and_top1_keeps_two_columns(tiny_ckpt, tmp_path, capsys):
    ckpt, labels = tiny_ckpt
    image = labels.parent / "w0/0.png"
    predict(predict_cfg(ckpt, image, "decoder=beam", "top_n=3", "format=jsonl"))
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == record["hypotheses"][0]["text"]
    scores = [h["score"] for h in record["hypotheses"]]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True)
    predict(predict_cfg(ckpt, image, "decoder=beam"))
    assert len(capsys.readouterr().out.strip().split("\t")) == 2


def test_old_checkpoint_needs_lm_text(old_ckpt, tiny_ckpt, tmp_path):
    ckpt, labels = tiny_ckpt
    with pytest.raises(DecoderConfigError, match=r"decoder\.lm_text"):
        run_eval(old_ckpt, labels, tmp_path, "decoder=beam")
    texts = tmp_path / "train_texts.txt"
    texts.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    metrics = run_eval(old_ckpt, labels, tmp_path, "decoder=beam", f"decoder.lm_text={texts}")
    assert metrics["decoder"] == "beam" and metrics["test/cer"] <= 0.02  # the LM from lm_text reads as before
    with pytest.raises(DecoderConfigError, match=r"decoder\.words_file"):
        run_eval(old_ckpt, labels, tmp_path, "decoder=lexicon")


def test_slim_checkpoint_needs_the_names_lm(slim_ckpt, tiny_ckpt, tmp_path):
    labels = tiny_ckpt[1]
    with pytest.raises(DecoderConfigError, match=r"empty 'train_texts'.*decoder=beam_names"):
        run_eval(slim_ckpt, labels, tmp_path, "decoder=beam")
    with pytest.raises(DecoderConfigError, match=r"decoder=lexicon_wordlists"):
        run_eval(slim_ckpt, labels, tmp_path, "decoder=lexicon")
    metrics = run_eval(slim_ckpt, labels, tmp_path, "decoder=beam_names", *small_names_lm(tmp_path / "cache"))
    assert metrics["decoder"] == "beam" and metrics["decoder_options"]["lm_corpus"] == "names"
    assert metrics["test/cer"] <= 0.02 and list((tmp_path / "cache").glob("charlm-*.pkl"))


@pytest.mark.slow
def test_cli_error_names_the_key_to_set(old_ckpt, tmp_path):
    proc = run_cli("htr_lit.eval", f"ckpt_path={old_ckpt}", f"test_csv={tmp_path / 'unused.csv'}", "decoder=beam",
                   f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode != 0
    assert "decoder.lm_text" in proc.stderr.strip().splitlines()[-1]
