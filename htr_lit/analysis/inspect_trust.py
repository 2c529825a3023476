"""The error-analysis page's trust sections: how far the word confidence can be trusted (AUROC, ECE, the
risk-coverage table with the `review_below` threshold that gives each share of accepted words, per writer), the
least confident words, and the rows whose label the audit finds likely wrong (htr_lit.analysis.label_audit)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from htr_lit.analysis import inspect_html as h
from htr_lit.analysis.confidence import confidence_report
from htr_lit.analysis.error_analysis import WordResult

COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def acceptance_rows(conf: Sequence[float], correct: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(share accepted, review_below threshold that accepts it, share right of the accepted) for each coverage: the
    most confident words first; the threshold is the lowest confidence accepted."""
    order = np.argsort(-np.asarray(conf, float), kind="stable")
    ok = np.asarray(correct, float)[order]
    ranked = np.asarray(conf, float)[order]
    rows = []
    for share in COVERAGES:
        n = max(1, round(share * len(order)))
        rows.append((share, float(ranked[n - 1]), float(ok[:n].mean())))
    return rows


def confidence_section(results: Sequence[WordResult], kind: str) -> str:
    scored = [r for r in results if r.confidence is not None]
    if not scored:
        return '<h2>Word confidence</h2><p class="muted">no word was scored with a confidence.</p>'
    conf, correct = [r.confidence for r in scored], [r.truth == r.pred for r in scored]
    report = confidence_report(conf, correct)
    auroc = f"{report['auroc']:.3f}" if report["auroc"] is not None else "n/a (all right or all wrong)"
    head = (f"<h2>Word confidence</h2><p>{escape(kind)}. AUROC {auroc} (how well it ranks right words above wrong "
            f"ones; 0.5 is chance), ECE {report['ece']:.3f} (0: a probability), {len(scored)} words, "
            f"{100 * report['accuracy']:.1f} % right.</p>")
    rows = [[f"{100 * share:.0f} %", f"<code>review_below={threshold:.3g}</code>", h.bar(acc)]
            for share, threshold, acc in acceptance_rows(conf, correct)]
    return head + h.table(["words accepted (most confident first)", "accepted at or above", "right among them"],
                          rows, "coverage")


def writers_confidence_section(results: Sequence[WordResult]) -> str:
    writers = sorted({r.writer for r in results if r.writer is not None and r.confidence is not None}, key=str)
    if not writers:
        return ""
    rows = []
    for w in writers:
        mine = [r for r in results if r.writer == w and r.confidence is not None]
        report = confidence_report([r.confidence for r in mine], [r.truth == r.pred for r in mine])
        auroc = f"{report['auroc']:.3f}" if report["auroc"] is not None else "n/a"
        rows.append([escape(str(w)), str(len(mine)), f"{100 * report['accuracy']:.1f} %",
                     f"{np.mean([r.confidence for r in mine]):.3f}", auroc, f"{report['ece']:.3f}"])
    return ("<h2>Word confidence per writer</h2>"
            + h.table(["writer", "words", "right", "mean confidence", "AUROC", "ECE"], rows, "writer-confidence"))


def _who(r: WordResult) -> str:
    where = [Path(r.id).name, f"writer {r.writer}" if r.writer is not None else ""]
    return f'<span title="{escape(r.id)}">' + "<br>".join(escape(w) for w in where if w) + "</span>"


def least_confident_section(results: Sequence[WordResult], tokens: Sequence[str], n: int) -> str:
    scored = sorted((r for r in results if r.confidence is not None), key=lambda r: r.confidence)[:n]
    if not scored:
        return ""
    rows = [[str(i), _who(r), f"{r.confidence:.3f}", h.diff_html(r.truth, r.pred), h.strip_html(r, tokens)]
            for i, r in enumerate(scored, 1)]
    return (f"<h2>Least confident words ({len(scored)})</h2><p class=\"muted\">What a person checks first with "
            "<code>htr-predict ... review_below=C</code>.</p>"
            + h.table(["#", "row", "confidence", "truth vs prediction", "image as the model saw it"], rows,
                      "least-confident"))


def flagged_section(results: Sequence[WordResult], threshold: float, n: int) -> str:
    judged = [r for r in results if r.audit is not None]
    if not judged:
        return ""
    flagged = sorted((r for r in judged if r.audit.score >= threshold), key=lambda r: -r.audit.score)
    if not flagged:
        return (f"<h2>Likely wrong labels</h2><p class=\"muted\">none of {len(judged)} rows at or above "
                f"{threshold:g} nats per character.</p>")
    rows = [[str(i), _who(r), escape(r.truth), escape(r.pred), escape(r.audit.kind),
             escape(r.audit.suggestion) if r.audit.kind == "shifted" else "",
             f"{r.audit.score:.2f}" if np.isfinite(r.audit.score) else "inf",
             f'<img src="{h.png_data_uri(r.image)}" height="40" alt="{escape(r.id)}">']
            for i, r in enumerate(flagged[:n], 1)]
    return (f"<h2>Likely wrong labels ({len(flagged)} of {len(judged)} rows flagged, {min(n, len(flagged))} shown)"
            f"</h2><p class=\"muted\">The label is at least {threshold:g} nats per character less likely than the "
            "reading under the model (<code>htr-data audit</code> lists the same rows as a CSV); shifted: another "
            "row's label of the same writer fits the image better.</p>"
            + h.table(["#", "row", "label", "reading", "kind", "label it fits", "score", "image"], rows, "flagged"))
