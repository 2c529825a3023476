"""Choose a decoder's settings on validation writers, then score the test writers once.

    python -m htr_lit.cv.decoder_search --cv outputs/cv/separable_oof --folds 0,1,2,3,4 --decoder beam_names \\
        --grid lm_weight=0.3,0.5,0.8 --grid insertion_bonus=0,1,2 --baseline insertion_bonus=0 --out F.json

Each fold's model reads its validation and its test writers once (the log-probabilities are kept); every setting
of the grid (the product of the `--grid KEY=V1,V2` lists, over keys of conf/decoder/<decoder>.yaml) decodes the
validation readings, and the test readings are decoded with the settings chosen there:
- `nested`: each fold takes the setting with the lowest CER on its own validation writers. Its test figures are
  the clean ones: no test writer of a fold had a say in its choice.
- `pooled`: one setting for every fold, the lowest CER over all folds' validation writers, what a default takes.
  A fold's validation writers are other folds' test writers, so its test figures are a little optimistic.
- `greedy` and `baseline` (the decoder as configured, with the keys of `--baseline KEY=VALUE` changed) as references.
Every decoding is cached under `--cache` (default `outputs/decoder_search/<cv folder name>`): a killed search
continues where it stopped, and two processes given other `--folds` fill the same cache side by side (then one run
with every fold writes the record from it).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr_lit.analysis.label_audit import LabelRow, read_rows
from htr_lit.config import shown_path
from htr_lit.cv.folds import add_fold_arguments
from htr_lit.cv.summary import chosen_folds
from htr_lit.data.real.dhsd import dhsd_labels

PARTS = ("val", "test")


def number(text: str) -> int | float:
    """`4` -> 4 (a width stays an int), `0.5` -> 0.5."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else float(text)


def grid_of(specs: Sequence[str]) -> list[dict[str, float]]:
    """`["lm_weight=0.3,0.5", "insertion_bonus=0,1"]` -> every combination, as {key: value}."""
    axes: list[tuple[str, list[float]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        try:
            numbers = [number(v) for v in values.split(",") if v.strip()]
        except ValueError:
            numbers = []
        if not sep or not key.strip() or not numbers:
            raise SystemExit(f"error: --grid {spec!r}: write KEY=V1,V2,... with numbers, e.g. lm_weight=0.3,0.5")
        axes.append((key.strip(), numbers))
    if len({k for k, _ in axes}) != len(axes):
        raise SystemExit("error: a --grid key is given twice")
    return [dict(zip([k for k, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]


def setting_name(setting: dict[str, float] | None) -> str:
    """`greedy` for None, else `k=v,k=v` (sorted keys; `default` for no keys)."""
    if setting is None:
        return "greedy"
    return ",".join(f"{k}={v:g}" for k, v in sorted(setting.items())) or "default"


def cer(texts: Sequence[str], labels: Sequence[str]) -> float:
    from htr_lit.inference.scoring import figures

    return float(figures(texts, labels)["cer"]) if labels else 0.0


def pooled_cer(parts: Sequence[tuple[Sequence[str], Sequence[str]]]) -> float:
    """CER over several (texts, labels) lists pooled: every label character counts once."""
    return cer([t for texts, _ in parts for t in texts], [lab for _, labels in parts for lab in labels])


class FoldReadings:
    """One fold model's log-probabilities of its validation and test rows (read once, cached), decoded with any
    setting of one decoder (each decoding cached too)."""

    def __init__(self, ckpt: Path, rows: dict[str, list[LabelRow]], decoder: str, cache: Path) -> None:
        self.ckpt, self.rows, self.decoder, self.cache = ckpt, rows, decoder, cache
        self._log_probs: dict[str, list[Any]] = {}
        self._model: Any = None
        cache.mkdir(parents=True, exist_ok=True)
        stat = ckpt.stat()
        source = {"ckpt": shown_path(ckpt), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                  "rows": {part: len(r) for part, r in rows.items()}}
        marker = cache / "source.json"
        if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) != source:
            for old in [*cache.glob("*.pt"), *cache.glob("*.json")]:  # another model or other rows: start afresh
                old.unlink()
        marker.write_text(json.dumps(source), encoding="utf-8")

    def log_probs(self, part: str) -> list[Any]:
        """(T_i, C) log-probabilities of every row of `part` in order; None for an unreadable or blank image."""
        import torch

        if part in self._log_probs:
            return self._log_probs[part]
        path = self.cache / f"{part}_log_probs.pt"
        if path.is_file():
            self._log_probs[part] = torch.load(path, weights_only=True)
            return self._log_probs[part]
        from htr_lit.data import ink
        from htr_lit.inference.batching import load_window, read_batches
        from htr_lit.inference.scoring import Reader

        reader = Reader(self.ckpt, threads=1)
        rows = self.rows[part]
        images, errors = load_window([Path(r.path) for r in rows], reader.pre)
        written = [k for k, im in enumerate(images) if not ink.is_blank(im)]
        _, lps = read_batches([images[k] for k in written], reader.backend, reader.decode, 32, keep_log_probs=True)
        by_image: list[Any] = [None] * len(images)
        for k, lp in zip(written, lps):
            by_image[k] = lp.clone()
        readable = iter(by_image)
        out = [None if i in errors else next(readable) for i in range(len(rows))]
        torch.save(out, path)
        self._log_probs[part] = out
        return out

    def decode(self, part: str, setting: dict[str, float] | None) -> list[str]:
        """The texts of `part`'s rows decoded greedily (`setting` None) or by the decoder with `setting`."""
        from htr_lit.decoding.factory import decoder_options
        from htr_lit.inference.scoring import decoder_spec

        name = setting_name(setting)
        # keyed by every option the decoding used (the yaml's and the setting's), so an edited yaml decodes afresh
        used = "greedy" if setting is None else json.dumps({**decoder_options(decoder_spec(self.decoder)),
                                                             **setting}, sort_keys=True, default=str)
        digest = hashlib.sha1(f"{self.decoder}|{used}".encode()).hexdigest()[:12]
        path = self.cache / f"{part}_{digest}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))["texts"]
        import torch

        from htr_lit.checkpoint import load_model
        from htr_lit.decoding.factory import build_decoder

        if self._model is None:
            self._model, _ = load_model(self.ckpt)
        model = self._model
        decode = model.decoder if setting is None else build_decoder(
            decoder_spec(self.decoder), model.charset.tokens, model.htr_meta.get("train_texts"), top_n=1, **setting)
        texts = []
        for lp in self.log_probs(part):
            if lp is None:
                texts.append("")
                continue
            hyps = decode(lp[None], torch.tensor([lp.shape[0]]))[0]
            texts.append(hyps[0].text if hyps else "")
        path.write_text(json.dumps({"decoder": self.decoder, "setting": name, "texts": texts}, ensure_ascii=False),
                        encoding="utf-8")
        return texts

    def labels(self, part: str) -> list[str]:
        return [r.text for r in self.rows[part]]


def search(folds: dict[int, FoldReadings], grid: list[dict[str, float]], baseline: dict[str, float] | None = None,
           ) -> dict[str, Any]:
    """Every setting on every fold's validation rows (`val`: a row per setting, with its keys, CER per fold and
    pooled); the nested and pooled choices (`chosen`), and the test rows decoded with them, greedily and with the
    `baseline` (`test`: per scheme, the setting per fold, CER per fold, pooled and the folds' mean)."""
    val: dict[str, dict[int, float]] = {}
    for setting in grid:
        val[setting_name(setting)] = {i: cer(f.decode("val", setting), f.labels("val")) for i, f in folds.items()}
        print(f"{setting_name(setting)}: val CER " + ", ".join(f"{100 * c:.2f}" for c in val[setting_name(setting)]
              .values()) + " %", flush=True)
    by_name = {setting_name(s): s for s in grid}
    pooled_val = {name: pooled_cer([(folds[i].decode("val", by_name[name]), folds[i].labels("val"))
                                    for i in folds]) for name in by_name}
    pooled_choice = min(by_name, key=lambda n: (pooled_val[n], n))
    nested_choice = {i: min(by_name, key=lambda n: (val[n][i], n)) for i in folds}
    schemes: dict[str, dict[int, dict[str, float] | None]] = {
        "greedy": {i: None for i in folds}, "baseline": {i: dict(baseline or {}) for i in folds},
        "nested": {i: by_name[nested_choice[i]] for i in folds}, "pooled": {i: by_name[pooled_choice] for i in folds}}
    test: dict[str, Any] = {}
    for scheme, chosen in schemes.items():
        per_fold = {i: cer(folds[i].decode("test", s), folds[i].labels("test")) for i, s in chosen.items()}
        test[scheme] = {"settings": {str(i): setting_name(s) for i, s in chosen.items()},
                        "folds": {str(i): c for i, c in per_fold.items()},
                        "pooled_cer": pooled_cer([(folds[i].decode("test", s), folds[i].labels("test"))
                                                  for i, s in chosen.items()]),
                        "mean_cer": sum(per_fold.values()) / len(per_fold)}
    greedy_val = {i: cer(f.decode("val", None), f.labels("val")) for i, f in folds.items()}
    return {"grid": [setting_name(s) for s in grid],
            "val": [{"setting": "greedy", "folds": {str(i): c for i, c in greedy_val.items()},
                     "pooled_cer": pooled_cer([(f.decode("val", None), f.labels("val")) for f in folds.values()])},
                    *[{"setting": n, **by_name[n], "folds": {str(i): c for i, c in v.items()},
                       "pooled_cer": pooled_val[n]} for n, v in val.items()]],
            "chosen": {"pooled": {"setting": pooled_choice, **by_name[pooled_choice]},
                       "nested": {str(i): {"setting": n, **by_name[n]} for i, n in nested_choice.items()}},
            "test": test}


def defaults(decoder: str, grid: list[dict[str, float]]) -> dict[str, Any]:
    """The configured values (conf/decoder/<decoder>.yaml) of the keys the grid varies."""
    from htr_lit.decoding.factory import decoder_options
    from htr_lit.inference.scoring import decoder_spec

    options = decoder_options(decoder_spec(decoder))
    return {k: options.get(k) for k in sorted({k for s in grid for k in s})}


def table(record: dict[str, Any]) -> str:
    folds = list(record["test"]["greedy"]["folds"])
    lines = ["| decoding | settings | " + " | ".join(f"fold {i}" for i in folds) + " | pooled CER % |",
             "| --- | --- | " + " | ".join("---:" for _ in folds) + " | ---: |"]
    for scheme, t in record["test"].items():
        settings = sorted(set(t["settings"].values()))
        lines.append(f"| {scheme} | {'; '.join(settings)} | " + " | ".join(
            f"{100 * t['folds'][i]:.2f}" for i in folds) + f" | {100 * t['pooled_cer']:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m htr_lit.cv.decoder_search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fold_arguments(p)
    p.add_argument("--decoder", default="beam_names", help="conf/decoder name (default: beam_names)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="values of one decoder key to try (repeat for more keys; the grid is their product)")
    p.add_argument("--baseline", action="append", default=[], metavar="KEY=VALUE",
                   help="the reference decoding: the decoder as configured with these keys changed (repeat)")
    p.add_argument("--cache", type=Path, default=None, help="where readings and decodings are kept")
    p.add_argument("--out", type=Path, default=None, help="the record (JSON); without it, only fill the cache")
    args = p.parse_args(argv)
    grid = grid_of(args.grid)
    import torch

    torch.set_num_threads(1)
    chosen = chosen_folds(args.cv, args.folds)
    labels = args.csv or dhsd_labels()
    rows, _ = read_rows(labels)
    cache = args.cache or Path("outputs") / "decoder_search" / args.cv.name
    folds = {}
    for i, (fold, ckpt) in chosen.items():
        parts = {"val": [r for r in rows if r.writer_id in set(fold.val_writers)],
                 "test": [r for r in rows if r.writer_id in set(fold.test_writers)]}
        folds[i] = FoldReadings(ckpt, parts, args.decoder, cache / f"fold_{i}")
    baseline = {k: v for spec in args.baseline for k, v in grid_of([spec])[0].items()}
    record = search(folds, grid, baseline)
    print(table(record))
    if args.out is None:
        return 0
    record = {"command": shlex.join(["python", "-m", "htr_lit.cv.decoder_search", *argv]),
              "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
              "cv": shown_path(args.cv), "decoder": args.decoder, "defaults": defaults(args.decoder, grid),
              "words": {part: {str(i): len(f.rows[part]) for i, f in folds.items()} for part in PARTS}, **record}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
