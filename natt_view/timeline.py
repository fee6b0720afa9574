"""The time-warp timeline: NAT mapping lifetimes against keepalives and traffic, on the virtual clock.

RFC 3948 §4: the side behind a NAT sends a one-byte 0xFF keepalive when it has sent nothing for
M seconds, so the NAT keeps its UDP mapping (RFC 4787 REQ-5: an idle mapping may be dropped).
When the keepalive interval is longer than the NAT's idle timeout the mapping expires between
keepalives, the next keepalive opens a *new* mapping with a new public port, and the peer that
is not behind the NAT keeps sending to the old one: one-way traffic. Every bar and tick below is
read from the trace (mapping_lives, the packets themselves); nothing is drawn from the settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from natt_core.lab.trace import Trace

from .field_facts import mapping_lives
from .steps import journeys
from .theme import CURRENT, DROPPED, MUTED, PROTECTED, TRANSLATED

LANE = 30
LEFT = 300
TOP = 40


@dataclass(frozen=True)
class Tick:
    time: float
    lane: str           #: "keepalive <peer>" | "L2TP data" | "IKE"
    step: int
    label: str
    dropped: bool


def ticks(trace: Trace) -> list[Tick]:
    """One tick per packet journey after phase 1 began: keepalives per sender, data, IKE."""
    out = []
    for j in journeys(trace):
        if j.label == "keepalive":
            lane = f"keepalives from {j.sender}"
        elif j.label in ("ESP", "ESP-in-UDP", "AH"):
            lane = "L2TP data (ESP)"
        else:
            lane = "IKE messages"
        out.append(Tick(j.time, lane, j.index, f"{j.shown_label}: {j.sender} → {j.receiver}", bool(j.dropped)))
    return out


def moments(trace: Trace) -> list[tuple[int, str]]:
    """(step, what happened) for the moments worth fast-forwarding to, in order."""
    found: list[tuple[int, str]] = []
    seen_first_ka = False
    for j in journeys(trace):
        if j.label == "keepalive" and not seen_first_ka:
            found.append((j.index, f"first keepalive at {j.time:.0f} s (from {j.sender})"))
            seen_first_ka = True
        if j.dropped:
            found.append((j.index, f"{j.label} dropped at {j.last.device} at {j.time:.0f} s"))
        for e in j.events:
            if e.event == "NatMappingExpired" and len(found) < 40:
                found.append((j.index, f"a mapping expires at {e.time:.0f} s"))
    out, last = [], None
    for step, text in found:
        if text != last:
            out.append((step, text))
        last = text
    return out


def _x(t: float, end: float, width: int) -> float:
    return LEFT + (width - LEFT - 20) * (t / end if end else 0)


def timeline_svg(trace: Trace, now: float, device: str = "nat", width: int = 1100) -> str:
    """Lanes: one per mapping of `device` (a bar for its lifetime), then keepalive, data and IKE ticks."""
    end = float(trace.scenario.get("duration") or 1)
    lives = mapping_lives(trace, device)
    tk = ticks(trace)
    lanes = [f"{m.inside} ⇄ :{m.outside.rsplit(':', 1)[-1]}" for m in lives]
    tick_lanes = []
    for t in tk:
        if t.lane not in tick_lanes:
            tick_lanes.append(t.lane)
    tick_lanes.sort(key=lambda name: (not name.startswith("keepalives"), name))
    height = TOP + LANE * (len(lanes) + len(tick_lanes)) + 40
    out = [f'<svg class="natt-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="timeline of NAT mappings and keepalives">']
    step = _axis_step(end)
    t = 0.0
    while t <= end + 1e-9:
        x = _x(t, end, width)
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{height - 30}" stroke="#eceff1"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 14}" font-size="14" text-anchor="middle" fill="#546e7a">'
                   f'{t:g} s</text>')
        t += step
    for i, (name, m) in enumerate(zip(lanes, lives)):
        y = TOP + i * LANE
        out.append(f'<text x="{LEFT - 10}" y="{y + 19}" font-size="14" text-anchor="end" fill="#263238" '
                   f'font-family="ui-monospace,monospace">{escape(name)}</text>')
        x0, x1 = _x(m.start, end, width), _x(m.end, end, width)
        out.append(f'<rect x="{x0:.1f}" y="{y + 6}" width="{max(x1 - x0, 2):.1f}" height="{LANE - 12}" rx="4" '
                   f'fill="{TRANSLATED}" fill-opacity=".75" stroke="#8d6e00"><title>{escape(name)}: '
                   f'{m.start:.1f}–{m.end:.1f} s{" (expired)" if m.expired else ""}</title></rect>')
        if m.expired:
            out.append(f'<text x="{x1 + 4:.1f}" y="{y + 20}" font-size="13" fill="{DROPPED}">expired</text>')
    base = TOP + len(lanes) * LANE
    colours = {"IKE messages": "#455a64", "L2TP data (ESP)": PROTECTED}
    for i, name in enumerate(tick_lanes):
        y = base + i * LANE
        out.append(f'<text x="{LEFT - 10}" y="{y + 19}" font-size="15" font-weight="600" text-anchor="end" '
                   f'fill="#263238">{escape(name)}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y + LANE / 2:.0f}" x2="{width - 20}" y2="{y + LANE / 2:.0f}" '
                   f'stroke="#cfd8dc"/>')
        for t in (t for t in tk if t.lane == name):
            x = _x(t.time, end, width)
            if t.dropped:
                out.append(f'<text x="{x:.1f}" y="{y + 23}" font-size="22" font-weight="700" text-anchor="middle" '
                           f'fill="{DROPPED}">✕<title>step {t.step} · {escape(t.label)} — dropped</title></text>')
            else:
                colour = colours.get(name, "#2e7d32")
                out.append(f'<rect x="{x - 2.5:.1f}" y="{y + 6}" width="5" height="{LANE - 12}" fill="{colour}">'
                           f'<title>step {t.step} · {escape(t.label)} at {t.time:.3f} s</title></rect>')
    x = _x(min(max(now, 0), end), end, width)
    out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height - 26}" stroke="{CURRENT}" '
               f'stroke-width="3"/>')
    out.append(f'<text x="{min(x, width - 80):.1f}" y="{height - 8}" font-size="15" font-weight="700" '
               f'text-anchor="middle" fill="{CURRENT}">this step: t = {now:.1f} s</text>')
    if not lives:
        out.append(f'<text x="{LEFT}" y="{TOP + 18}" font-size="14" fill="{MUTED}">{escape(device)} held no '
                   'mapping in this run</text>')
    out.append("</svg>")
    return "".join(out)


def _axis_step(end: float) -> float:
    for step in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600):
        if end / step <= 12:
            return float(step)
    return 7200.0
