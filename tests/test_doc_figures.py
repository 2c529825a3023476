"""Every figure registered in docs/figures.json reads, in its document, as its record says; no document holds a
machine's absolute path or speaks of how the work was done.

A registry entry names a document, a text quoted from it (whitespace-insensitive) and one figure spec per number
in that text (after `skip` leading numbers such as fold indices). A spec reads a record (JSON or CSV under docs/)
at a key path, e.g. `folds[*].test/cer` (every fold; `per_writer[*]`: every value of a mapping),
`folds[fold=4].test/cer`, `backends[model=recognizer, backend=onnx].img_s`, `[configuration=bilstm].test_cer_mean`
(a CSV row); `concat` joins the values of several
specs, `minus` subtracts another spec's values element by element, `reduce` (mean, std, min, max) makes one
value of them; `scale` multiplies the values read or joined (100 for a percentage), before `minus` and `reduce`,
and `digits` is how many decimals the text shows.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "docs" / "figures.json"
NUMBER = re.compile(r"(?:(?<=x)|(?<![\w.]))\d+(?:,\d{3})*(?:\.\d+)?")  # x3.83 counts, rates1248 not
SEGMENT = re.compile(r"^([^\[\]]*)(?:\[([^\]]*)\])?$")
REDUCE = {"mean": statistics.fmean, "std": statistics.stdev, "min": min, "max": max}


def load_record(path: Path) -> Any:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    return json.loads(path.read_text(encoding="utf-8"))


def _select(items: list[Any] | dict[str, Any], selector: str) -> list[Any]:
    if selector == "*":  # every item of a list, every value of a mapping (e.g. per_writer)
        return list(items.values()) if isinstance(items, dict) else list(items)
    if selector.lstrip("-").isdigit():
        return [items[int(selector)]]
    wanted = dict(part.split("=", 1) for part in selector.split(","))
    return [item for item in items if all(str(item.get(k)) == v for k, v in wanted.items())]


def lookup(record: Any, key: str) -> list[float]:
    """The values at `key` (see the module docstring) as floats, in record order."""
    nodes = [record]
    for part in key.split("."):
        name, selector = SEGMENT.match(part).groups()  # type: ignore[union-attr]
        if name:
            nodes = [node[name] for node in nodes]
        if selector is not None:
            nodes = [item for node in nodes for item in _select(node, selector)]
    if not nodes:
        raise KeyError(f"{key}: selects nothing")
    return [float(node) for node in nodes]


def values(spec: dict[str, Any], root: Path) -> list[float]:
    """A figure spec's values: read, joined, subtracted, reduced and scaled."""
    if "record" in spec:
        out = lookup(load_record(root / spec["record"]), spec["key"])
    else:
        out = [v for part in spec["concat"] for v in values(part, root)]
    out = [v * spec.get("scale", 1) for v in out]  # in the text's unit before anything is subtracted
    if "minus" in spec:
        other = values(spec["minus"], root)
        if len(other) != len(out):
            raise ValueError(f"minus: {len(out)} values against {len(other)}")
        out = [a - b for a, b in zip(out, other)]
    if "reduce" in spec:
        out = [REDUCE[spec["reduce"]](out)]
    return out


def formatted(spec: dict[str, Any], root: Path) -> list[str]:
    return [f"{v:.{spec.get('digits', 2)}f}" for v in values(spec, root)]


def squash(text: str) -> str:
    return " ".join(text.split())


def problems(entry: dict[str, Any], root: Path = ROOT) -> list[str]:
    """What is wrong with one registry entry: its text missing from its document, or a number that its record
    does not give (empty: all agree)."""
    doc, text = entry["doc"], squash(entry["text"])
    if text not in squash((root / doc).read_text(encoding="utf-8")):
        return [f"{doc}: the registered text is gone: {text!r}"]
    quoted = [n.replace(",", "") for n in NUMBER.findall(text)][entry.get("skip", 0):]
    expected = [v for spec in entry["figures"] for v in formatted(spec, root)]
    if len(quoted) != len(expected):
        return [f"{doc}: {text!r} quotes {len(quoted)} numbers, the registry gives {len(expected)}"]
    return [f"{doc}: {text!r} says {q}, the record gives {e}" for q, e in zip(quoted, expected) if q != e]


ENTRIES = json.loads(REGISTRY.read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['doc']}:{e['text'][:40]}" for e in ENTRIES])
def test_registered_figure_matches_its_record(entry: dict[str, Any]) -> None:
    assert problems(entry) == []


def test_the_registry_covers_the_readme_and_the_model_card() -> None:
    docs = {e["doc"] for e in ENTRIES}
    assert {"README.md", "htr_lit/assets/models/README.md", "docs/unseen_writers.md"} <= docs
    readme = squash((ROOT / "README.md").read_text(encoding="utf-8"))
    registered = " ".join(squash(e["text"]) for e in ENTRIES if e["doc"] == "README.md")
    # decimals, not versions (>= 3.10, CC BY 4.0) nor a setting's value (review_below=0.9)
    for figure in re.findall(r"(?<!>= )(?<!BY )(?<![=\d.])\d+\.\d+(?: ± \d+\.\d+)?", readme):
        assert figure in registered, f"README.md quotes {figure} without a registered record"


@pytest.fixture
def planted(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "rec.json").write_text(json.dumps({"folds": [{"fold": 0, "cer": 0.0812}, {"fold": 1, "cer": 0.0645}]}))
    (tmp_path / "doc.md").write_text("Fold 1 reads at 6.45 %, the mean of\nboth at 7.29 %.\n")
    return {"doc": "doc.md", "text": "Fold 1 reads at 6.45 %, the mean of both at 7.29 %", "skip": 1, "figures": [
        {"record": "rec.json", "key": "folds[fold=1].cer", "scale": 100},
        {"record": "rec.json", "key": "folds[*].cer", "reduce": "mean", "scale": 100}]}


def test_an_agreeing_figure_passes(planted: dict[str, Any], tmp_path: Path) -> None:
    assert problems(planted, tmp_path) == []


def test_a_planted_disagreement_fails(planted: dict[str, Any], tmp_path: Path) -> None:
    planted["text"] = "Fold 1 reads at 6.45 %, the mean of both at 7.30 %"
    (tmp_path / "doc.md").write_text(planted["text"] + ".\n")
    assert problems(planted, tmp_path) == [f"doc.md: {planted['text']!r} says 7.30, the record gives 7.29"]
    (tmp_path / "rec.json").write_text(json.dumps({"folds": [{"fold": 0, "cer": 0.0815}, {"fold": 1, "cer": 0.0645}]}))
    assert problems(planted, tmp_path) == []  # the record moved to the text: agreeing again


def test_a_registered_text_gone_from_its_document_fails(planted: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text("Fold 1 reads at about 6 %.\n")
    assert problems(planted, tmp_path)[0].startswith("doc.md: the registered text is gone")


def test_differences_ranges_and_csv_cells(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"folds": [{"cer": 0.10}, {"cer": 0.08}]}))
    (tmp_path / "b.json").write_text(json.dumps({"folds": [{"cer": 0.09}, {"cer": 0.05}]}))
    (tmp_path / "t.csv").write_text("name,img_s\nfast,495.13\nslow,281.94\n")
    gain = {"record": "a.json", "key": "folds[*].cer", "scale": 100,
            "minus": {"record": "b.json", "key": "folds[*].cer", "scale": 100}}
    assert formatted({**gain, "reduce": "min"}, tmp_path) == ["1.00"]
    assert formatted({"concat": [gain, gain], "reduce": "max"}, tmp_path) == ["3.00"]
    assert formatted({"record": "t.csv", "key": "[name=slow].img_s", "digits": 0}, tmp_path) == ["282"]


# --- no machine paths, no words about how the work was done -------------------------------------------------

MACHINE_PATH = re.compile(r"(?<![\w.~$}])/(?:work|root|home|tmp)/")
WORKPLACE = re.compile(r"\b(?:sittings?|lent|sessions?|engineers?)\b", re.IGNORECASE)


def committed(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / p for p in out.stdout.split("\0") if p and (ROOT / p).is_file()]


def prose_lines(text: str) -> list[str]:
    """The lines of a markdown text outside fenced code blocks (code may name an ort.InferenceSession)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def test_no_record_or_document_names_a_machine_path() -> None:
    files = committed("docs", "README.md")
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in files if p.suffix in (".json", ".csv", ".md")
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if MACHINE_PATH.search(line)]
    assert bad == [], "absolute machine paths; run python3 scripts/relativize_records.py"


def test_no_document_speaks_of_how_the_work_was_done() -> None:
    files = committed("docs/*.md", "README.md", "sweeps/*.md", "htr_lit/assets/models/README.md")
    bad = [f"{p.relative_to(ROOT)}: {line.strip()[:80]}" for p in files
           for line in prose_lines(p.read_text(encoding="utf-8")) if WORKPLACE.search(line)]
    assert bad == []


@pytest.mark.slow
def test_relativize_records_rewrites_machine_paths_once(tmp_path: Path) -> None:
    record = tmp_path / "docs" / "metrics.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"best_ckpt": "/work/main/outputs/cv/x/fold_0/checkpoints/best.ckpt",
                                  "pretrained_encoder": "/work/other/htr_lit/assets/models/pretrained.ckpt",
                                  "image": "/work/shared/data/dhsd/images/writer2/2_0.png",
                                  "command": ["hydra.run.dir=/tmp/run/outputs/cv/x/fold_0", "seed=1"]}))
    script = [sys.executable, str(ROOT / "scripts" / "relativize_records.py"), str(tmp_path / "docs")]
    subprocess.run(script, check=True, capture_output=True)
    assert json.loads(record.read_text()) == {
        "best_ckpt": "outputs/cv/x/fold_0/checkpoints/best.ckpt",
        "pretrained_encoder": "htr_lit/assets/models/pretrained.ckpt",
        "image": "dhsd/images/writer2/2_0.png",
        "command": ["hydra.run.dir=outputs/cv/x/fold_0", "seed=1"]}
    once = record.read_text()
    check = subprocess.run([*script[:2], "--check", script[2]], capture_output=True, text=True)
    assert check.returncode == 0 and record.read_text() == once  # idempotent: nothing left to rewrite
