"""The predict benchmark's section of docs/performance.md: its markdown, and splicing it between its markers
(so `make bench`'s model table and this section can be rewritten independently)."""

from __future__ import annotations

NAME, WRITER = "bench_predict", "python -m htr_lit.measuring.bench_predict"  # its block of performance.md


def section(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        "## End-to-end predict throughput",
        "",
        f"Measured by `python -m htr_lit.measuring.bench_predict {s['args']}`".rstrip() + f" on {m['date_utc']} UTC: "
        f"{s['images']} PNG files ({s['source']}), checkpoint(s) `{s['ckpt']}`, "
        f"{s['threads']} thread(s) for torch / onnxruntime, on {m['cpu']} ({m['cpu_count']} logical CPUs; "
        f"1-min load average {m['load_avg_1m_at_start']} at start{', ' + m['note'] if m.get('note') else ''}).",
        "",
        "images/s = files / wall time of the whole path: decode, preprocess (checkpoint's settings), pad and "
        "run width-sorted batches, decoding (greedy; `-tta` rows: five width stretches fused, `-names` rows: the "
        "names LM's beam search) and the word confidence, one `path<TAB>text` line written per image; median of "
        f"{s['repeats']} runs, the backends taken in turn each round. Start-up is apart: imports of "
        f"`htr_lit.predict` ({report['import_s']:.2f} s), then per backend loading the checkpoint and building "
        "the backend from a warm cache plus one warm-up batch; *first use* is the one-off ONNX export "
        "(+ int8 calibration) into an empty cache. *load* and *model* are the path's two halves timed alone in one "
        "pass after the runs, in ms per image: decode + preprocess, then batches + decoding. A run overlaps "
        "them (the next window is read in a thread while the model runs); one after the other they would read "
        "1000 / (load + model) images/s.",
        "",
    ]
    rows = report["backends"]
    models = list(dict.fromkeys(r.get("model", "") for r in rows))
    several = len(models) > 1  # a model column, and "x torch" against the first checkpoint's torch row
    lines += [
        ("| model " if several else "") + "| backend | batch | images/s | "
        + ("x torch of the first |" if several else "x torch |")
        + " runs (images/s) | load ms | model ms | start-up s | first use s | CER % | CER vs torch % |",
        ("| --- " if several else "") + "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = next((r["img_s"] for r in rows if r["backend"] == "torch" and r.get("model", "") == models[0]), None)
    for r in rows:
        ratio = f"{r['img_s'] / base:.2f}" if base else "-"
        cer = f"{100 * r['cer']:.2f}" if r.get("cer") is not None else "-"
        vs = f"{100 * r['cer_vs_torch']:.2f}" if r.get("cer_vs_torch") is not None else "-"
        runs = ", ".join(f"{x:.1f}" for x in r["runs_img_s"])
        stages = " | ".join(f"{r[k]:.2f}" if r.get(k) is not None else "-" for k in ("load_ms", "model_ms"))
        lines.append((f"| {r['model']} " if several else "") + f"| {r['backend']} | {r['batch_size']} | "
                     f"{r['img_s']:.1f} | {ratio} | {runs} | {stages} | "
                     f"{r['startup_s']:.2f} | {r['first_use_s']:.1f} | {cer} | {vs} |")
    if report.get("notes"):
        lines += ["", *report["notes"]]
    return "\n".join(lines) + "\n"

