"""A printable handout: a lesson's whole run expanded for paper (the cheat sheet is in cheat_sheet.py).

Instructors print and students annotate, so the handout shows every step at once: the diff lens,
the field layout on every segment (RFC 791 §3.1 / RFC 2408 §3.1 / RFC 3948 §2 diagrams), the
peers' words and the outcome, all read from the Trace (nothing typed in that could disagree with
the engine). It is one self-contained HTML document with A4 print CSS and no script; the two
highlights also differ in black and white (amber gets a dashed frame, violet is hatched).
"""
from __future__ import annotations

import re
import textwrap
from html import escape
from typing import Iterable, Mapping

from natt_core.errors import DecodeError
from natt_core.lab.trace import Trace

from .lesson_notes import note_for
from .diagrams import sequence_svg, topology_dot
from .packet import diff_lens_text, packet_layout_html
from .steps import Journey, fields_of, journey_changes, journeys
from .tables import events_html, outcome_lines
from .theme import CSS, PROTECTED

CIRCLED = "①②③④⑤⑥⑦⑧⑨"
SEQ_ROWS = 20          #: sequence-diagram rows per printed block (a block of 20 fits on one A4 page)

_DOC_CSS = f"""
@page {{ size: A4; margin: 12mm 11mm 13mm 11mm; }}
html {{ font-size: 9.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
body {{ font-family: system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; color:#1a1a1a;
  line-height:1.4; max-width:188mm; margin:0 auto; padding:0 2mm; }}
h1 {{ font-size:1.9rem; margin:.2rem 0 .3rem 0; }}
h2 {{ font-size:1.35rem; margin:1.1rem 0 .4rem 0; border-bottom:1.5px solid #37474f; padding-bottom:.1rem;
  break-after:avoid; }}
h3 {{ font-size:1.05rem; margin:.7rem 0 .25rem 0; break-after:avoid; }}
h4 {{ font-size:1rem; margin:.6rem 0 .2rem 0; }}
code {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.95em;
  background:#eceff1; padding:0 .2em; border-radius:2px; }}
table.md, table.facts {{ border-collapse:collapse; margin:.3rem 0 .5rem 0; }}
table.md td, table.md th, table.facts td, table.facts th {{ border:1px solid #90a4ae; padding:2px 7px;
  text-align:left; vertical-align:top; }}
table.md th, table.facts th {{ background:#eceff1; }}
.meta {{ color:#455a64; margin:.1rem 0; }}
.note {{ border:1.5px solid #1565c0; border-left-width:6px; background:#e3f2fd; padding:.35rem .7rem;
  margin:.3rem 0; border-radius:3px; }}
.missing {{ color:#455a64; font-style:italic; }}
figure {{ margin:0 0 .6rem 0; break-inside:avoid; }}
figcaption {{ font-weight:700; font-size:.95rem; margin:.25rem 0 .15rem 0; }}
.topo svg {{ max-width:100%; height:auto; max-height:70mm; display:block; margin:0 auto; }}
.seqblock {{ break-inside:avoid; margin:0 0 .5rem 0; }}
.seqblock svg {{ max-width:100% !important; display:block; }}
.step {{ margin-top:.4rem; }}
.step h2 .t {{ font-weight:400; font-size:.85rem; color:#546e7a; float:right; margin-top:.35rem; }}
.head {{ break-inside:avoid; }}
.natt-rfc {{ font-size:.86rem; }}
.natt-rfc td {{ padding:1px 2px; }}
.natt-lens {{ font-size:1rem; margin:.25rem 0 .45rem 0; }}
.natt-events {{ font-size:1rem; line-height:1.45; }}
.natt-legend {{ font-size:.95rem; }}
.natt-t {{ outline:2.5px dashed #000 !important; outline-offset:-3px !important; }}
.natt-rfc td.natt-t {{ padding:3px 5px; }}
.natt-legend .sw.natt-t {{ outline-offset:-1px !important; }}
.natt-legend .sw.natt-p {{ border-color:{PROTECTED}; }}
.outcome li {{ margin:.15rem 0; }}
.same {{ margin:.15rem 0 0 0; font-style:italic; color:#37474f; border:1.5px dashed #90a4ae; padding:.15rem .5rem; }}
.natt-rfc td[colspan="32"] .n, .natt-rfc td[colspan="32"] .v {{ display:inline; }}
.natt-rfc td[colspan="32"] .n::after {{ content:":  "; white-space:pre; }}
@media print {{ body {{ max-width:none; padding:0; }} a {{ color:inherit; text-decoration:none; }} }}
"""


# --- markdown, minimally and safely ------------------------------------------------------------

_ESCAPED = re.compile(r"\\([\\`*_|#\[\]()>+.!-])")
_ITEM = re.compile(r"([-*+]|\d+[.)])\s+(.*)")


def inline_html(text: str) -> str:
    """Inline markdown (code, bold, italic, links as 'text (url)') over escaped text."""
    out = []
    for n, part in enumerate(re.split(r"(`[^`\n]+`)", text)):
        if n % 2:
            out.append(f"<code>{escape(part[1:-1])}</code>")
            continue
        s = _ESCAPED.sub(lambda m: f"\x00{ord(m.group(1))}\x00", part)
        s = escape(s, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        s = re.sub(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])", r"<i>\1</i>", s)
        s = re.sub(r"\[([^\]\n]+)\]\(([^)\s]+)\)", r"\1 (\2)", s)
        s = re.sub("\x00(\\d+)\x00", lambda m: escape(chr(int(m.group(1)))), s)
        out.append(s)
    return "".join(out)


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def _table(rows: list[str]) -> str:
    body = [r for r in rows if not re.fullmatch(r"\|?[\s:|-]+\|?", r.strip())]
    if not body:
        return ""
    head, rest = _cells(body[0]), body[1:]
    out = ['<table class="md"><tr>' + "".join(f"<th>{inline_html(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in _cells(r)) + "</tr>" for r in rest]
    return "".join(out) + "</table>"


def markdown_html(md: str) -> str:
    """Paragraphs, `#` headings, bullet and numbered lists, pipe tables; everything else is text.
    All text is escaped first, so markup in the source can only ever show as text."""
    lines = textwrap.dedent(md or "").strip("\n").splitlines()
    blocks: list[str] = []
    i = 0

    def starts_block(s: str) -> bool:
        return s.startswith("|") or s.startswith("#") or bool(_ITEM.match(s))

    while i < len(lines):
        s = lines[i].strip()
        if not s:
            i += 1
        elif s.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            blocks.append(_table(rows))
        elif m := re.match(r"#{1,6}\s+(.*)", s):
            blocks.append(f"<h4>{inline_html(m.group(1))}</h4>")
            i += 1
        elif _ITEM.match(s):
            ordered = s[0].isdigit()
            items: list[str] = []
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("|"):
                t = lines[i].strip()
                m = _ITEM.match(t)
                if m:
                    items.append(m.group(2))
                elif items:
                    items[-1] += " " + t
                i += 1
            tag = "ol" if ordered else "ul"
            blocks.append(f"<{tag}>" + "".join(f"<li>{inline_html(t)}</li>" for t in items) + f"</{tag}>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and (not para or not starts_block(lines[i].strip())):
                para.append(lines[i].strip().lstrip("> "))
                i += 1
            blocks.append(f"<p>{inline_html(' '.join(para))}</p>")
    return "\n".join(blocks)


# --- the lesson handout ------------------------------------------------------------------------

def topology_svg(dot: str) -> str | None:
    """The DOT drawn by Graphviz's `dot`, or None when the binary (or the package) is missing."""
    try:
        import graphviz
        svg = graphviz.Source(dot).pipe(format="svg").decode("utf-8", "replace")
    except Exception:            # ExecutableNotFound, CalledProcessError, ImportError: leave it out
        return None
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None


def _sequence_blocks(trace: Trace, steps: tuple[Journey, ...]) -> list[str]:
    """The whole ladder in printable blocks of at most SEQ_ROWS rows, no row highlighted. A block is
    drawn from the steps up to its last row with a window of its own size and no current step, so
    the ladder shows exactly its rows; its 'steps a–b of n' footer gives way to a caption."""
    n = len(steps)
    count = max(1, -(-n // SEQ_ROWS))
    size = -(-n // count)
    out = []
    for a in range(0, n, size):
        b = min(a + size, n)
        svg = sequence_svg(trace, steps[:b], current=n + 1, window=b - a, width=720)
        svg = re.sub(r"<text[^>]*>steps \d+–\d+ of \d+</text>", "", svg)
        cap = f'<p class="meta">Steps {a + 1}–{b} of {n}</p>' if count > 1 else ""
        out.append(f'<div class="seqblock">{cap}{svg}</div>')
    return out


def _legend() -> str:
    return ('<div class="natt-legend">'
            '<span><span class="sw natt-t"></span><b>translated by a NAT</b> — amber, dashed black frame</span>'
            '<span><span class="sw natt-p"></span><b>NAT cannot touch</b> — violet, hatched '
            '(encrypted or integrity-protected)</span></div>')


#: the layers a NAT may rewrite; after the first segment, only these are drawn again when every
#: byte behind them is identical to the previous segment (checked on the bytes, not assumed)
HEADER_LAYERS = ("IPv4", "UDP")


def _segment_figure(trace: Trace, j: Journey, n: int, changed: frozenset[int]) -> str:
    hop = j.hops[n]
    mark = CIRCLED[n] if n < len(CIRCLED) else f"({n + 1})"
    where = "as sent" if n == 0 else f"after {hop.device}"
    cap = f"{mark} on {hop.segment} · {where} · {len(hop.packet)} bytes"
    if hop.dropped:
        cap += f" · dropped: {hop.dropped}"
    try:
        fields = list(fields_of(trace, hop.packet))
    except DecodeError as e:
        return (f"<figure><figcaption>{escape(cap)}</figcaption>"
                f'<p class="missing">These bytes do not parse: {escape(str(e))}</p></figure>')
    tail = ""
    if n > 0:
        head = [f for f in fields if f.layer in HEADER_LAYERS]
        end = max((f.end for f in head), default=0)
        prev = j.hops[n - 1].packet
        # a tail of a few bytes (a keepalive's 0xFF) is drawn again: eliding it would save nothing
        if head and len(hop.packet) - end > 4 and len(prev) == len(hop.packet) and hop.packet[end:] == prev[end:]:
            rest = [f for f in fields if f.offset >= end]
            layers = list(dict.fromkeys(f.layer for f in rest))
            shown = ", ".join(layers[:4]) + (", …" if len(layers) > 4 else "")
            fields = [f for f in fields if f.offset < end]
            tail = (f'<p class="same">Bytes {end}–{len(hop.packet) - 1} ({escape(shown)}) are byte-for-byte '
                    f"the same as on {escape(j.hops[n - 1].segment)}: not drawn again.</p>")
    body = packet_layout_html(fields, changed)
    return f"<figure><figcaption>{escape(cap)}</figcaption>{body}{tail}</figure>"


def _step_html(trace: Trace, j: Journey, total: int, note: str | None) -> str:
    changed = journey_changes(j)
    try:
        first = fields_of(trace, j.first.packet)
    except DecodeError:
        first = None
    lens = diff_lens_text(j.hops, first)
    t = f"{j.time * 1000:.0f} ms" if j.time < 1 else f"{j.time:.1f} s"
    head = [f'<h2>Step {j.index} of {total} — {escape(j.title())} <span class="t">t = {t}</span></h2>']
    if note:
        head.append(f'<div class="note">{inline_html(note)}</div>')
    head.append(f'<div class="natt-lens{" drop" if j.dropped else ""}"><b>Diff lens:</b> {escape(lens)}</div>')
    figures = [_segment_figure(trace, j, n, changed) for n in range(len(j.hops))]
    # the heading, the note, the lens and the first layout stay together on one page
    return (f'<section class="step" id="step-{j.index}"><div class="head">{"".join(head)}{figures[0]}</div>'
            + "".join(figures[1:]) + f"<h3>What the peers said</h3>{events_html(j)}</section>")


def _facts(head: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A plain bordered table of escaped text."""
    return ('<table class="facts"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>")


def _outcome_html(trace: Trace) -> str:
    """The run's verdict from report.json: one line per peer, the reason a peer failed, the NAT mappings."""
    lines = "".join(f"<li>{inline_html(line)}</li>" for line in outcome_lines(trace))
    peers = []
    for name, p in trace.report.get("peers", {}).items():
        behind = p.get("behind_nat") or {}
        who = [w for w, flag in (("itself", behind.get("self")), ("its peer", behind.get("peer"))) if flag]
        peers.append((name, p.get("role", ""), p.get("phase1"), p.get("phase2"), ", ".join(who) or "nobody",
                      p.get("keepalives_sent", 0), p.get("reason") or "— (nothing failed)"))
    table = _facts(("peer", "role", "phase 1", "phase 2", "sees behind NAT", "keepalives sent", "reason"), peers)
    maps = [(nat, m.get("proto"), m.get("inside"), m.get("outside"))
            for nat, info in trace.report.get("nats", {}).items() for m in info.get("mappings", ())]
    nat_table = ("<h3>Every mapping the NATs made</h3>" + _facts(("NAT", "proto", "inside", "outside"), maps)
                 if maps else "")
    return (f'<section class="outcome"><h2>Outcome of the run</h2><ul>{lines}</ul>'
            f"<h3>Per peer, from the run's report</h3>{table}{nat_table}</section>")


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"{CSS}<style>{_DOC_CSS}</style></head><body>{body}</body></html>")


def lesson_handout_html(trace: Trace, title: str, goal: str, narrative_markdown: str,
                        notes: Mapping[str, str] | None = None, *, pace: str = "",
                        settings: Iterable[str] = ()) -> str:
    """The lesson as one printable HTML document: story, topology, ladder, every step expanded,
    outcome. `settings` are the what-if lines that made this run (shown so a print can be redone)."""
    notes = notes or {}
    steps = journeys(trace)
    settings = tuple(settings)
    meta = f"Scenario <code>{escape(str(trace.report.get('scenario', '?')))}</code> · {len(steps)} steps"
    if settings:
        meta += " · what-if: " + ", ".join(f"<code>{escape(s)}</code>" for s in settings)
    if pace:
        meta += f" · pace: {escape(pace)}"
    parts = [f"<header><h1>{escape(title)}</h1><p><b>Goal:</b> {inline_html(goal)}</p>"
             f'<p class="meta">{meta}</p></header>',
             f"<section><h2>The story in plain words</h2>{markdown_html(narrative_markdown)}</section>"]
    svg = topology_svg(topology_dot(trace))
    topo = svg if svg else '<p class="missing">(Topology left out: Graphviz\'s <code>dot</code> is not installed.)</p>'
    parts.append(f'<section class="topo"><h2>Topology</h2><figure>{topo}</figure></section>')
    parts.append('<section><h2>Every packet of the run</h2><p class="meta">One row per step; an amber dot marks '
                 "a NAT that rewrote the packet, ✕ a drop.</p>" + "".join(_sequence_blocks(trace, steps))
                 + "</section>")
    parts.append(f"<section><h2>How to read the packet layouts</h2>{_legend()}<p class=\"meta\">Each layout is "
                 "the packet as it crossed one segment, in 32-bit rows like the RFC diagrams; long fields "
                 "take one dashed row.</p></section>")
    parts += [_step_html(trace, j, len(steps), note_for(notes, j.label, trace.scenario)) for j in steps]
    parts.append(_outcome_html(trace))
    return _document(f"{title} — handout", "".join(parts))
