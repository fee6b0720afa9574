"""The two pictures of a step: the topology (Graphviz DOT) and the sequence diagram (SVG).

The topology comes from `trace.topology` (which device sits on which segment with which address);
the current packet's path is drawn thick and orange, a NAT that rewrote it is filled amber. The
sequence diagram has one lifeline per device and one row per packet journey, like the numbered
ladders of RFC 3947 §3; it is plain SVG because Graphviz cannot keep lifelines straight. Given a
`link(step) -> href`, every row is a link to its step (`data-step` names it for the page's click
handler; the href is the deep link that works without it), with one transparent hit area per row.
"""
from __future__ import annotations

from html import escape
from typing import Callable

from natt_core.lab.trace import Trace

from .steps import Journey
from .theme import CURRENT, DROPPED, MUTED, TRANSLATED, TRANSLATED_BG


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def devices(trace: Trace) -> list[str]:
    """Devices left to right: clients, the client-side NATs, the server-side NAT, the server."""
    names: list[str] = []
    for a in trace.topology:
        if a["device"] not in names:
            names.append(a["device"])

    def rank(name: str) -> tuple[int, str]:
        kinds = {a["kind"] for a in trace.topology if a["device"] == name}
        if name.startswith("client") and kinds == {"host"}:
            return 0, name
        if name == "server":
            return 9, name
        if name.startswith("server"):
            return 8, name
        order = {"nat": 3, "cgnat": 5}
        return order.get(name, 6), name
    return sorted(names, key=rank)


def _addresses(trace: Trace, device: str) -> list[str]:
    out = []
    order = {"host": 0, "nat-inside": 1, "nat-outside": 2}
    for a in sorted(trace.topology, key=lambda a: order.get(a["kind"], 3)):
        if a["device"] == device:
            side = {"nat-inside": "in ", "nat-outside": "out "}.get(a["kind"], "")
            out.append(f"{side}{a['address']}")
    return out


def plain_routers(trace: Trace) -> list[str]:
    """Devices drawn where a NAT usually sits that are configured as plain routers (`nat.kind=none`):
    they forward packets without rewriting an address or port."""
    routers = []
    for device, key in (("nat", "nat"), ("server-nat", "nat2")):
        cfg = trace.scenario.get(key) or {}
        if cfg.get("kind") == "none" and any(a["device"] == device for a in trace.topology):
            routers.append(device)
    return routers


def topology_dot(trace: Trace, journey: Journey | None = None) -> str:
    """DOT source: devices as boxes, segments as labelled links, the journey's path highlighted."""
    path: dict[tuple[str, str, str], int] = {}
    rewrote: set[str] = set()
    dropped_at: str | None = None
    if journey is not None:
        for n, h in enumerate(journey.hops, 1):
            path[(h.segment, h.device, h.dst_host or "")] = n
            if h.changes:
                rewrote.add(h.device)
        if journey.dropped:
            dropped_at = journey.last.dst_host
    lines = ["graph topology {", 'rankdir=LR; bgcolor="transparent"; pad=0.2; nodesep=0.35; ranksep=0.35;',
             'node [shape=box style="rounded,filled" fontname="Helvetica" fontsize=20 penwidth=1.6 '
             'fillcolor="#eceff1" color="#37474f" margin="0.12,0.05"];',
             'edge [fontname="Helvetica" fontsize=17 color="#78909c" penwidth=2 fontcolor="#37474f"];']
    routers = plain_routers(trace)
    for name in devices(trace):
        label = "\n".join([name + (" (plain router, no NAT)" if name in routers else "")] + _addresses(trace, name))
        style = []
        kinds = {a["kind"] for a in trace.topology if a["device"] == name}
        if kinds != {"host"}:
            style.append('shape=box3d fillcolor="#cfd8dc"')
        if name in rewrote:
            style.append(f'fillcolor="{TRANSLATED_BG}" color="{TRANSLATED}" penwidth=3')
        if journey is not None and name in (journey.sender, journey.receiver):
            style.append(f'color="{CURRENT}" penwidth=3')
        if name == dropped_at:
            style.append(f'color="{DROPPED}" penwidth=4')
        lines.append(f"{_q(name)} [label={_q(label)} {' '.join(style)}];")
    by_segment: dict[str, list[dict]] = {}
    for a in trace.topology:
        by_segment.setdefault(a["segment"], []).append(a)
    order = devices(trace)
    for segment, atts in by_segment.items():
        names = sorted({a["device"] for a in atts}, key=order.index)
        for i, left in enumerate(names):
            for right in names[i + 1:]:
                if all(a["kind"] == "host" for a in atts if a["device"] in (left, right)):
                    continue
                n = path.get((segment, left, right)) or path.get((segment, right, left))
                attrs = [f"label={_q(segment)}"]
                if n is not None:
                    colour = DROPPED if journey and journey.dropped and n == len(journey.hops) else CURRENT
                    attrs = [f"label={_q(f'({n}) {segment}')}", f'color="{colour}"',
                             "penwidth=5", f'fontcolor="{colour}"', "fontsize=18"]
                lines.append(f"{_q(left)} -- {_q(right)} [{' '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines)


# --- sequence diagram ----------------------------------------------------------------------------

ROW = 36
TOP = 58
LEFT = 62


def _t(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _window_start(current: int, count: int, window: int, stable: bool) -> int:
    """First row shown: centred on `current`, or (stable) moved in half-window pages, so the same
    picture serves several steps in a row with at least a quarter window around the current one."""
    if stable:
        half = max(window // 2, 1)
        start = ((current - 1) // half) * half + 1 - half // 2
    else:
        start = current - window // 2
    return max(1, min(start, count - window + 1))


def current_row_css(step: int) -> str:
    """The highlight of row `step` in a `stable` ladder: the picture stays the same from step to
    step (the browser keeps it), only this rule moves."""
    row = f'svg.natt-seq [data-step="{step}"]'
    return (f"<style>{row} rect.hit{{fill:#fff3e0;fill-opacity:1;stroke:{CURRENT};stroke-width:1.5}}"
            f"{row} text:not(.x){{fill:{CURRENT};font-weight:700}}"
            f"{row} line{{stroke:{CURRENT};stroke-width:3.5}}{row} line.drop{{stroke:{DROPPED}}}</style>")


def sequence_svg(trace: Trace, steps: tuple[Journey, ...], current: int, window: int = 16,
                 width: int = 560, link: Callable[[int], str] | None = None, stable: bool = False) -> str:
    """An SVG ladder of the journeys around `current` (1-based), the current row highlighted; with
    `link`, each row is an `<a>` to `link(step)` so a click on the picture moves to that step.
    `stable` draws no highlight (see `current_row_css`) and moves the window by pages."""
    cols = devices(trace)
    if not steps:
        return '<svg class="natt-seq" xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    lo = _window_start(current, len(steps), window, stable)
    shown = [j for j in steps if lo <= j.index < lo + window]
    first, last = LEFT + 56, width - 50
    span = (last - first) / max(1, len(cols) - 1)
    x = {name: first + i * span for i, name in enumerate(cols)}
    height = TOP + ROW * len(shown) + 16
    out = [f'<svg class="natt-seq" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" role="img" aria-label="sequence diagram">',
           '<defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>']
    for name in cols:
        out.append(f'<line x1="{x[name]:.0f}" y1="{TOP - 14}" x2="{x[name]:.0f}" y2="{height - 6}" '
                   f'stroke="#b0bec5" stroke-width="2" stroke-dasharray="4 4"/>')
        out.append(f'<rect x="{x[name] - 48:.0f}" y="6" width="96" height="30" rx="6" fill="#eceff1" '
                   f'stroke="#37474f"/><text x="{x[name]:.0f}" y="27" text-anchor="middle" font-size="16" '
                   f'font-weight="700" fill="#1a1a1a">{escape(name)}</text>')
    for row, j in enumerate(shown):
        y = TOP + row * ROW + ROW / 2
        is_current = j.index == current and not stable
        colour = CURRENT if is_current else "#455a64"
        if link is None and stable:
            out.append(f'<g class="natt-row" data-step="{j.index}"><rect class="hit" x="2" y="{y - ROW / 2 + 1:.0f}" '
                       f'width="{width - 4}" height="{ROW - 2}" rx="5" fill="#ffffff" fill-opacity="0"/>')
        if link is not None:
            out.append(f'<a class="natt-row" data-step="{j.index}" href="{escape(link(j.index), quote=True)}" '
                       f'target="_self" aria-label="{escape(f"go to step {j.index}: {j.title()}", quote=True)}">'
                       f'<title>{escape(f"Step {j.index}: {j.title()} (click to open)")}</title>'
                       f'<rect class="hit" x="2" y="{y - ROW / 2 + 1:.0f}" width="{width - 4}" height="{ROW - 2}" '
                       f'rx="5" fill="#ffffff" fill-opacity="0"/>')
        if is_current:
            out.append(f'<rect x="2" y="{y - ROW / 2 + 1:.0f}" width="{width - 4}" height="{ROW - 2}" rx="5" '
                       f'fill="#fff3e0" stroke="{CURRENT}" stroke-width="1.5"/>')
        out.append(f'<text x="6" y="{y + 5:.0f}" font-size="14" fill="{colour}" '
                   f'font-weight="{700 if is_current else 400}">{j.index}. {_t(j.time)}</text>')
        for n, h in enumerate(j.hops):
            a, b = x.get(h.device), x.get(h.dst_host or "")
            if a is None:
                continue
            if b is None:
                b = a + (30 if n == 0 else -30)
            last = n == len(j.hops) - 1
            stroke = DROPPED if (last and j.dropped) else colour
            marker = ' marker-end="url(#ah)"' if last and not j.dropped else ""
            end = b - 8 if b > a else b + 8
            if last and j.dropped:
                end = (a + b) / 2
            drop = ' class="drop"' if last and j.dropped else ""
            out.append(f'<line{drop} x1="{a:.0f}" y1="{y:.0f}" x2="{end:.0f}" y2="{y:.0f}" stroke="{stroke}" '
                       f'stroke-width="{3.5 if is_current else 2}"{marker}/>')
            if h.changes:
                out.append(f'<circle cx="{a:.0f}" cy="{y:.0f}" r="6" fill="{TRANSLATED}" stroke="#6d4c00"/>')
            if last and j.dropped:
                out.append(f'<text class="x" x="{end:.0f}" y="{y + 7:.0f}" font-size="22" font-weight="700" '
                           f'text-anchor="middle" fill="{DROPPED}">✕</text>')
        # the label sits on the first leg, clear of the NAT's dot in the middle
        a, b = x.get(j.first.device), x.get(j.first.dst_host or "")
        mid = (a + b) / 2 if a is not None and b is not None else (a or LEFT) + 40
        out.append(f'<text x="{mid:.0f}" y="{y - 5:.0f}" text-anchor="middle" font-size="15" '
                   f'font-weight="{700 if is_current else 500}" fill="{colour}" paint-order="stroke" '
                   f'stroke="#ffffff" stroke-width="4">{escape(j.shown_label)}</text>')
        if link is not None:
            out.append("</a>")
        elif stable:
            out.append("</g>")
    if lo > 1 or lo + window <= len(steps):
        out.append(f'<text x="{width - 8}" y="{height - 2}" text-anchor="end" font-size="12" fill="{MUTED}">'
                   f'steps {lo}–{min(len(steps), lo + window - 1)} of {len(steps)}</text>')
    out.append("</svg>")
    return "".join(out)
