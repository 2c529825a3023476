"""The benchmark's report files: derived figures (share of the matmul rate, dilated vs BiLSTM ratios) and
performance.json / performance.md, from the rows `htr_lit.measuring.bench` measured."""

from __future__ import annotations

import json
from pathlib import Path

from htr_lit.results import doc_block

# the blocks other generators write into performance.md, carried over when `make bench` rewrites the rest
CARRIED = ("bench_predict", "bench_length", "pareto")


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def encoder_of(row: dict) -> str:
    """The encoder a row was measured with: its `model/encoder=` override, else the benchmark's default."""
    named = [o.split("=", 1)[1] for o in row.get("overrides", []) if o.startswith("model/encoder=")]
    return named[-1] if named else "compact"


def markdown(report: dict) -> str:
    m, st = report["machine"], report["settings"]
    loader = report.get("data_loader") or []
    median_width = f" (the synthetic words' median width is {loader[0]['median_width']} px)" if loader else ""
    encoders = ", ".join(f"`{e}`" for e in dict.fromkeys(encoder_of(r) for r in report["models"]))
    lines = [
        "# Performance",
        "",
        "Measured by `python -m htr_lit.measuring.bench` "
        f"({'quick smoke run, not for citing' if report['quick'] else 'full run'}) "
        f"on {m['date_utc']} UTC.",
        "",
        f"**Machine:** {m['cpu']} ({m['cpu_count']} logical CPUs, torch {m['torch']}, {m['torch_threads']} threads"
        + (f", GPU {m['gpu']}" if m.get("gpu") else "")
        + f"); 1-min load average at start {m['load_avg_1m_at_start']}; "
        + "measured matmul (2048², median of 5): "
        + ", ".join(f"{k} {fmt(v)} GFLOP/s" for k, v in report["matmul_gflops"].items())
        + ".",
        "",
        f"Input {st['height']} x {st['width']} px{median_width}, encoder {encoders}, "
        f"training batch {st['train_batch']} (AdamW step included), inference batch {st['infer_batch']} "
        "under `torch.inference_mode`, latency at batch 1. Rates are medians of "
        f"{st['repeats']} repeats. FLOPs from `torch.utils.flop_counter.FlopCounterMode` plus an analytic count for "
        "the LSTM (4 gates x (in + hidden) x hidden MACs per step), training = forward + backward. "
        "Peak memory: CPU = increase of the process's peak RSS (`ru_maxrss`) during the training loop, "
        "each model in a fresh process; GPU = `torch.cuda.max_memory_allocated`.",
        "",
        "| sequence | device | precision | params | GFLOPs/img fwd | train img/s | % of matmul | "
        "infer img/s (b64) | latency ms (b1) | peak train MB |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["models"]:
        lines.append(
            f"| {' '.join([r['sequence'], *r.get('overrides', [])])} | {r['device']} | {r['precision']} | "
            f"{r['params'] / 1e6:.2f} M | "
            f"{r['flops_fwd_per_image'] / 1e9:.3f} | {fmt(r['train_img_s'])} | {100 * r['matmul_fraction']:.1f} % | "
            f"{fmt(r['infer_img_s_b64'])} | {r['latency_ms_b1']:.2f} | {fmt(r['peak_mem_train_mb'], 0)} |"
        )
    ratios = report.get("ratios", {})
    if ratios:
        lines += [
            "",
            "Dilated vs BiLSTM ({device}): inference x{infer:.2f}, training x{train:.2f}; the default model "
            "(BiLSTM) training loop reaches {bilstm_matmul:.1f} % of the matmul rate.".format(**ratios),
        ]
    if report["data_loader"]:
        lines += [
            "",
            "Data loader (the real `HTRDataModule` train loader over rendered synthetic words, "
            f"batch {report['data_loader'][0]['batch_size']}, images cached in memory once):",
            "",
            "| augment | workers | loader img/s |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {d['augment']} | {d['num_workers']} | {fmt(d['img_s'])} |" for d in report["data_loader"]]
        lines += ["", "Compare with the train img/s column: the loader must be faster than the model it feeds."]
    return "\n".join(lines) + "\n"


def add_derived(report: dict) -> None:
    mm = report["matmul_gflops"]
    for r in report["models"]:
        key = f"{r['device'].split(':')[0]} {r['precision']}"
        r["matmul_fraction"] = r["train_gflop_s"] / mm[key] if mm.get(key) else 0.0
    # the headline ratio compares the default encoder's rows only: with `--encoders` the same sequence model
    # appears once per encoder (its overrides say which), and a later row must not stand in for the default
    by = {(r["sequence"], r["device"], r["precision"]): r for r in report["models"]
          if all(o == "model/encoder=compact" for o in r.get("overrides", []))}
    if ("bilstm", "cpu", "32-true") in by and ("dilated", "cpu", "32-true") in by:
        b, d = by[("bilstm", "cpu", "32-true")], by[("dilated", "cpu", "32-true")]
        report["ratios"] = {
            "device": "cpu",
            "infer": d["infer_img_s_b64"] / b["infer_img_s_b64"],
            "train": d["train_img_s"] / b["train_img_s"],
            "bilstm_matmul": 100 * b["matmul_fraction"],
        }


def write(report: dict, out: Path) -> None:
    add_derived(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "performance.json").write_text(json.dumps(report, indent=2) + "\n")
    md = out / "performance.md"
    old = md.read_text(encoding="utf-8") if md.is_file() else ""
    md.write_text(markdown(report) + doc_block.kept(old, *CARRIED))
