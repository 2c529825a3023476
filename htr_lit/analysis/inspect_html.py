"""The pieces of the error-analysis page: inline PNGs, the character diff, the best-path frame strip and
plain tables. Each returns an HTML fragment; `htr_lit.analysis.inspect_page` puts them together."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape

import numpy as np
from PIL import Image

from htr_lit.analysis.error_analysis import DEL, INS, MATCH, SUB, WordResult, align, strip_marks

KIND_CLASS = {MATCH: "ok", SUB: "sub", DEL: "del", INS: "ins"}
KIND_NAME = {SUB: "substitution", DEL: "deletion", INS: "insertion"}
GAP = "\u00b7"  # the empty side of an insertion or deletion in the diff


def show(ch: str) -> str:
    """A character as the page shows it: space as ␣ (visible), missing as an empty string; escaped."""
    return escape("\u2423" if ch == " " else ch)


def png_data_uri(img: np.ndarray) -> str:
    """uint8 (H, W) grayscale -> `data:image/png;base64,...`, so the page needs no other file."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def diff_html(truth: str, pred: str) -> str:
    """Truth over prediction, one column per alignment step, coloured by the step's kind."""
    ops = align(truth, pred)
    top = "".join(f'<td class="{KIND_CLASS[o.kind]}">{show(o.truth) or GAP}</td>' for o in ops)
    bottom = "".join(f'<td class="{KIND_CLASS[o.kind]}">{show(o.pred) or GAP}</td>' for o in ops)
    return (f'<table class="diff"><tr><th>truth</th>{top}</tr>'
            f'<tr><th>pred</th>{bottom}</tr></table>')


def strip_html(result: WordResult, tokens: Sequence[str], display_height: int = 64) -> str:
    """The preprocessed image, drawn `display_height` px high, with under it each non-blank frame's best-path
    character at that frame's columns (frame t spans t..t+1 times width/frames). Characters are coloured by
    how the best-path text aligns with the truth; greyed ones repeat the previous frame (merged by CTC)."""
    height, width = result.image.shape
    scale = display_height / height
    shown_width = round(width * scale)
    marks = strip_marks(result.frames, tokens, shown_width)
    best_text = "".join(ch for _, ch, emitted in marks if emitted)
    kinds = [KIND_CLASS[o.kind] for o in align(result.truth, best_text) if o.kind != DEL]  # one per emitted char
    ticks, chars, emitted_i = [], [], 0
    for x, ch, emitted in marks:
        kind = kinds[emitted_i - (not emitted)]
        emitted_i += emitted
        cls = kind if emitted else f"{kind} rep"
        ticks.append(f'<i class="tick {cls}" style="left:{x:.1f}px"></i>')
        chars.append(f'<b class="{cls}" style="left:{x:.1f}px">{show(ch)}</b>')
    return (f'<div class="word" style="width:{shown_width}px">'
            f'<div class="pic"><img src="{png_data_uri(result.image)}" width="{shown_width}" '
            f'height="{display_height}" alt="{escape(result.id)}">{"".join(ticks)}</div>'
            f'<div class="strip" title="best path: {len(result.frames)} frames">{"".join(chars)}</div></div>')


def table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table of already-escaped HTML cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def bar(fraction: float) -> str:
    """A percentage with a small horizontal bar (100 % fills 120 px)."""
    width = max(0.0, min(fraction, 1.0)) * 120
    return f'<span class="bar" style="width:{width:.0f}px"></span> {100 * fraction:.2f} %'


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #eef; }
.muted { color: #666; } code { background: #f4f4f4; padding: 0 3px; }
.bar { display: inline-block; height: 10px; background: #d33; vertical-align: middle; }
table.diff td, table.diff th { border: none; padding: 0 2px; font: 15px monospace; text-align: center; }
table.diff th { font: 11px sans-serif; color: #666; text-align: right; padding-right: 6px; }
.ok { color: #176b2c; } .sub { background: #ffd27a; } .del { background: #ff9c9c; } .ins { background: #9cd0ff; }
.word { position: relative; margin-right: 8px; } .pic { position: relative; line-height: 0; border: 1px solid #bbb; }
.pic img { display: block; }
.tick { position: absolute; top: 0; bottom: 0; width: 1px; background: rgba(220, 40, 40, .35); }
.tick.rep { background: rgba(120, 120, 120, .18); }
.strip { position: relative; height: 20px; border: 1px solid #bbb; border-top: none; background: #fafafa; }
.strip b { position: absolute; top: 2px; transform: translateX(-50%); font: bold 13px monospace; padding: 0 1px; }
.strip b.rep { font-weight: normal; opacity: .45; }
.row { display: flex; gap: 32px; align-items: flex-start; flex-wrap: wrap; }
"""

# Written on <body> once the page has loaded: how many <img> decoded (the browser test reads it).
LOAD_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images-total', imgs.length);
  document.body.setAttribute('data-images-loaded', ok);
});
"""
