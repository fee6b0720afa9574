"""Outcome grids as HTML: wrapped text, green for a run that connects, red for one that fails.

A field lesson's matrix (e.g. AssumeUDPEncapsulationContextOnSendRule × topology, RFC 3947 §3.2 /
KB 947234) is one engine run per cell; the cell text comes from that run. This module only lays
the text out so a projector shows every word (dataframes clip long cells).
"""
from __future__ import annotations

from html import escape

from .theme import DROPPED, INK

CSS = f"""
<style>
.natt-grid {{ border-collapse:collapse; width:100%; font-size:1.02rem; color:{INK}; }}
.natt-grid th {{ background:#eceff1; border:1px solid #b0bec5; padding:6px 10px; text-align:left;
  font-weight:700; }}
.natt-grid td {{ border:1px solid #b0bec5; padding:6px 10px; vertical-align:top; line-height:1.35; }}
.natt-grid td.ok {{ background:#e8f5e9; color:#1b5e20; font-weight:600; }}
.natt-grid td.bad {{ background:#ffebee; color:{DROPPED}; }}
.natt-grid td.here {{ outline:3px solid #e65100; outline-offset:-3px; }}
.natt-grid td.rowname {{ font-weight:700; background:#fafafa; }}
.natt-grid td.mono {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.95rem; }}
</style>
"""


def _cls(text: str) -> str:
    core = text.lstrip("▶ ").strip()
    out = []
    if core.startswith("✓"):
        out.append("ok")
    elif core.startswith("✗"):
        out.append("bad")
    if text.startswith("▶"):
        out.append("here")
    return " ".join(out)


def grid_html(rows: list[dict], mono: tuple[str, ...] = (), css: bool = True) -> str:
    """A table from dicts with the same keys; the first key is the row name. ▶ marks the current cell.
    `css=False` leaves out the stylesheet, for a page that already holds it once (`CSS`)."""
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{escape(str(k))}</th>" for k in keys)
    body = []
    for r in rows:
        cells = []
        for i, k in enumerate(keys):
            text = "" if r.get(k) is None else str(r.get(k))
            cls = "rowname" if i == 0 else _cls(text)
            if k in mono:
                cls += " mono"
            cells.append(f'<td class="{cls.strip()}">{escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (CSS if css else "") + f'<table class="natt-grid"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def wide_grid_html(rows: list[dict], mono: tuple[str, ...] = (), css: bool = True) -> str:
    """`grid_html` in a box that scrolls sideways (theme `.natt-wide`): a table wider than the page
    keeps one line per row and its last columns instead of being cut off or squeezed."""
    table = grid_html(rows, mono, css)
    return f'<div class="natt-wide">{table}</div>' if table else ""
