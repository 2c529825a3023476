"""The error-analysis page: one self-contained HTML file (styles, script and images inline) that opens from
disk: metrics, the bad rows, CER per writer, the most common character confusions, how far the word confidence can
be trusted (htr_lit.analysis.inspect_trust), the likely wrong labels, the worst words with their character diff and
best-path frame strip, and the least confident words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from htr_lit.analysis import inspect_html as h
from htr_lit.analysis.edit_kinds import breakdown
from htr_lit.analysis.error_analysis import DEL, INS, SUB, WordResult, cer_by_writer, confusions, worst
from htr_lit.analysis.inspect_trust import (
    confidence_section,
    flagged_section,
    least_confident_section,
    writers_confidence_section,
)


@dataclass
class PageInput:
    """Everything the page shows; `metrics` are eval's keys (test/cer ...) plus the run's own figures."""

    title: str
    results: list[WordResult]
    tokens: Sequence[str]  # the checkpoint's tokens, "" (blank) first: class index -> character
    metrics: Mapping[str, Any]
    skipped: list[str] = field(default_factory=list)  # bad rows, "split: row: reason", as eval reports them
    notes: list[str] = field(default_factory=list)  # plain-text lines under the title (checkpoint, data...)
    num_worst: int = 50
    num_confusions: int = 25
    confidence_kind: str = ""  # what the words' confidence is (calibrated or raw), said on the page
    num_least_confident: int = 30
    audit_threshold: float = 0.5  # the label audit's flag (nats per character), as `htr-data audit --threshold`
    num_flagged: int = 50


def _pct(key: str, value: Any) -> str:
    if isinstance(value, float) and key.split("/")[-1] in ("cer", "wer", "word_acc"):
        return f"{100 * value:.2f} %"
    return escape(str(value))


def metrics_section(page: PageInput) -> str:
    rows = [[f"<code>{escape(k)}</code>", _pct(k, v)] for k, v in page.metrics.items()]
    return "<h2>Metrics</h2>" + h.table(["metric", "value"], rows, "metrics")


def skipped_section(page: PageInput) -> str:
    if not page.skipped:
        return '<h2>Bad rows</h2><p class="muted">none: every row of the test split was read.</p>'
    rows = [[escape(split), escape(rest)] for split, _, rest in (line.partition(": ") for line in page.skipped)]
    return (f"<h2>Bad rows ({len(page.skipped)}, skipped)</h2>"
            + h.table(["split", "row, file and reason (as eval reports them)"], rows, "skipped"))


def writers_section(page: PageInput) -> str:
    scores = cer_by_writer(page.results)
    if not scores:
        return '<h2>CER per writer</h2><p class="muted">no writer ids in this data.</p>'
    rows = [[escape(s.writer), str(s.images), str(s.chars), str(s.errors), h.bar(s.cer),
             f"{100 * s.word_acc:.1f} %"] for s in scores]
    return (f"<h2>CER per writer ({len(scores)}, worst first)</h2>"
            + h.table(["writer", "images", "chars", "errors", "CER", "word acc"], rows, "writers"))


def confusions_section(page: PageInput) -> str:
    counts = confusions((r.truth, r.pred) for r in page.results)
    if not counts:
        return '<h2>Character confusions</h2><p class="muted">no errors.</p>'
    total = sum(counts.values())
    rows = []
    for (truth, pred), n in counts.most_common(page.num_confusions):
        kind = SUB if truth and pred else (DEL if truth else INS)
        cell = f'<span class="{h.KIND_CLASS[kind]}">{{}}</span>'
        rows.append([cell.format(h.show(truth) or h.GAP), cell.format(h.show(pred) or h.GAP), h.KIND_NAME[kind],
                     str(n), f"{100 * n / total:.1f} %"])
    return (f'<h2>Character confusions</h2><div class="muted">the {len(rows)} most common of {len(counts)}; '
            f"{total} edits in all</div>"
            + h.table(["truth", "predicted", "kind", "count", "share of edits"], rows, "confusions"))


def kinds_section(page: PageInput) -> str:
    """The edits by kind (htr_lit.analysis.edit_kinds): which errors to work on, and what fixing each would give."""
    part = breakdown((r.truth, r.pred) for r in page.results)
    if not part["edits"]:
        return ""
    rows = [[kind, str(k["edits"]), f"{100 * k['share']:.1f} %", f"{100 * k['cer_without']:.2f} %",
             str(k["words_only_this"])] for kind, k in part["kinds"].items() if k["edits"]]
    return ('<h2>Kinds of errors</h2><div class="muted">diacritic: the same letter with other marks (u for ü, s for '
            'ß); letter: another letter; missing / extra: a letter left out / added; separator: space, hyphen, '
            f"punctuation. CER now {100 * part['cer']:.2f} %.</div>"
            + h.table(["kind", "edits", "share", "CER if always right", "words wrong only by it"], rows, "kinds"))


def gallery_section(page: PageInput) -> str:
    shown = worst(page.results, page.num_worst)
    wrong = sum(r.truth != r.pred for r in page.results)
    if not shown:
        why = "every word is right." if page.results else "no image could be scored (see the bad rows)."
        return f'<h2>Worst words</h2><p class="muted">{why}</p>'
    rows = []
    for i, r in enumerate(shown, 1):
        where = [Path(r.id).name, Path(r.image_file).name if r.image_file else "",
                 f"writer {r.writer}" if r.writer is not None else ""]
        who = f'<span title="{escape(r.id)}">' + "<br>".join(escape(w) for w in where if w) + "</span>"
        rows.append([str(i), who, h.diff_html(r.truth, r.pred) + f'<div class="muted">CER {100 * r.cer:.0f} %, '
                     f"{r.errors} edits</div>", h.strip_html(r, page.tokens)])
    legend = ('<p class="muted">Diff: <span class="sub">substitution</span> <span class="del">deletion</span> '
              '(truth character not predicted) <span class="ins">insertion</span> (predicted, not in the truth). '
              'Under each image (as the model saw it, after the checkpoint\'s preprocessing), the best-path '
              'character of every non-blank frame at that frame\'s columns; red ticks mark those frames, greyed '
              'characters repeat the previous frame (merged by CTC), colours compare the best path with the '
              'truth.</p>')
    return (f"<h2>Worst words ({len(shown)} of {wrong} wrong, highest CER first)</h2>" + legend
            + h.table(["#", "row", "truth vs prediction", "image as the model saw it; best path per frame"], rows,
                      "gallery"))


def render_page(page: PageInput) -> str:
    """The whole HTML document as a string."""
    notes = "".join(f'<div class="muted">{escape(n)}</div>' for n in page.notes)
    trust = (f'<div class="row"><div>{confidence_section(page.results, page.confidence_kind)}</div>'
             f'<div>{writers_confidence_section(page.results)}</div></div>')
    body = "".join([f'<div class="row"><div>{metrics_section(page)}</div><div>{writers_section(page)}</div>'
                    f'<div>{confusions_section(page)}{kinds_section(page)}</div></div>', skipped_section(page), trust,
                    flagged_section(page.results, page.audit_threshold, page.num_flagged), gallery_section(page),
                    least_confident_section(page.results, page.tokens, page.num_least_confident)])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(page.title)}</title>'
            f"<style>{h.STYLE}</style><script>{h.LOAD_SCRIPT}</script></head>\n"
            f"<body><h1>{escape(page.title)}</h1>{notes}{body}</body></html>\n")
