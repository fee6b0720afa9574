"""The tunnel over time: one lane per SA generation on the virtual clock, with its lifecycle events.

Each ISAKMP SA (phase 1) and IPsec SA pair (phase 2) a peer held gets a bar from when it came up
to when it was deleted or expired (natt_core.lab.lifecycle reads them from the trace); an amber
stretch marks the overlap after its successor took the traffic (make-before-break). Lifecycle
events are drawn by their `kind` from `MARKS`: an event naming an SA (`sa`, `old`) sits on that
SA's lane, any other on its peer's "events" lane. A new kind of event (DPD, a peer's new address)
is shown by adding one line to `MARKS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from natt_core.lab.lifecycle import Generation, from_trace
from natt_core.lab.trace import Trace

from .theme import CURRENT, DROPPED, MUTED, PROTECTED, TRANSLATED
from .timeline import LANE, LEFT, TOP, _axis_step


@dataclass(frozen=True)
class Mark:
    symbol: str
    colour: str
    words: str          #: what it is, for the legend and the table


#: lifecycle event kind -> how it is drawn. One line per kind; nothing else needs to change.
MARKS: dict[str, Mark] = {
    "SaRekeyStarted": Mark("⟳", "#1565c0", "rekey begins (soft lifetime)"),
    "SaRekeyed": Mark("⇢", "#2e7d32", "successor takes over"),
    "SaDeleted": Mark("✕", "#455a64", "deleted (Delete payload)"),
    "SaExpired": Mark("⌛", DROPPED, "hard lifetime reached: expired"),
    "LifetimeAdopted": Mark("↧", "#6a1b9a", "responder's shorter lifetime adopted"),
    "RemoteFollowed": Mark("⇄", TRANSLATED, "peer's address changed"),
    "LivenessChecked": Mark("♥", "#00838f", "liveness check answered"),
    "DeadPeerDetected": Mark("☠", DROPPED, "peer declared dead (DPD): its SAs cleared"),
    "InitialContactReceived": Mark("↺", "#ef6c00", "INITIAL-CONTACT: the peer says it holds no other SA (older ones are replaced)"),
    "NatMappingsFlushed": Mark("⌫", TRANSLATED, "the NAT forgot its mappings"),
    "HostPower": Mark("⊘", MUTED, "a host switched off or on"),
}


#: lifecycle event kind -> the few words a count, a moment or a table row uses
SHORT: dict[str, str] = {
    "SaRekeyStarted": "rekey", "SaRekeyed": "successor takes over", "SaDeleted": "SA deleted",
    "SaExpired": "expiry", "LifetimeAdopted": "shorter lifetime adopted", "RemoteFollowed": "follows a new address",
    "LivenessChecked": "R-U-THERE answered", "DeadPeerDetected": "peer declared dead",
    "InitialContactReceived": "INITIAL-CONTACT", "NatMappingsFlushed": "NAT forgets its mappings",
    "HostPower": "switched off or on",
}


@dataclass(frozen=True)
class LifeEvent:
    time: float
    peer: str
    kind: str
    lane: str           #: the lane it is drawn on
    text: str
    step: int
    packet_id: int | None = None    #: the packet whose arrival caused it; None for a timer


@dataclass(frozen=True)
class Lane:
    name: str
    peer: str
    generation: Generation | None     #: None: the peer's events lane


def lane_name(g: Generation) -> str:
    """'client · ISAKMP #2 80e194fb…' (the initiator cookie, shortened) or 'client · IPsec #3 in/out SPIs'."""
    if g.phase == 1:
        return f"{g.peer} · ISAKMP #{g.number} {g.sa[:8]}…"
    return f"{g.peer} · IPsec #{g.number} {g.sa}"


def _peer_order(peer: str) -> tuple[int, str]:
    """Clients first, then NATs, the server last: the lanes read like the wire, left to right."""
    return ({"client": 0, "nat": 1, "nat2": 2, "server": 4}.get(peer.split("-")[0].rstrip("0123456789"), 3), peer)


def lanes(trace: Trace) -> list[Lane]:
    """Per peer (clients, NATs, server): its phase-1 lanes, its phase-2 lanes, then its events lane
    if it has lifecycle events naming no SA."""
    gens = from_trace(trace)
    sa_lanes = [Lane(lane_name(g), g.peer, g) for g in gens]
    orphans = {e.lane: e.peer for e in events(trace, sa_lanes)}
    peers = sorted(set(g.peer for g in gens) | set(orphans.values()), key=_peer_order)
    out = []
    for peer in peers:
        out += [lane for lane in sa_lanes if lane.peer == peer and lane.generation.phase == 1]
        out += [lane for lane in sa_lanes if lane.peer == peer and lane.generation.phase == 2]
        out += [Lane(name, peer, None) for name, p in orphans.items() if p == peer and name not in
                {lane.name for lane in sa_lanes}]
    return out


def events(trace: Trace, known: list[Lane] | None = None) -> list[LifeEvent]:
    """Every event whose kind is in MARKS, placed on the lane of the SA it names."""
    by_sa = {(lane.peer, lane.generation.sa): lane.name for lane in (known or []) if lane.generation}
    if known is None:
        by_sa = {(g.peer, g.sa): lane_name(g) for g in from_trace(trace)}
    out = []
    for s in trace.steps:
        if getattr(s, "kind", "") != "event" or s.event not in MARKS:
            continue
        named = s.fields.get("sa") or s.fields.get("old")
        lane = by_sa.get((s.peer, named)) or f"{s.peer} · events"
        out.append(LifeEvent(s.time, s.peer, s.event, lane, s.text, s.step, getattr(s, "packet_id", None)))
    return out


def summary(trace: Trace) -> dict[str, int]:
    """The counts a lesson quotes: generations per phase (both peers) and rekeys, deletes, expiries."""
    gens = from_trace(trace)
    evs = events(trace)
    return {"phase-1 generations": sum(g.phase == 1 for g in gens),
            "phase-2 generations": sum(g.phase == 2 for g in gens),
            "rekeys": sum(e.kind == "SaRekeyStarted" for e in evs),
            "deletes": sum(e.kind == "SaDeleted" for e in evs),
            "expiries": sum(e.kind == "SaExpired" for e in evs)}


def counts(trace: Trace, kinds: dict[str, str]) -> dict[str, int]:
    """{label: how many events of that kind} for `kinds` (kind -> label), in that order."""
    evs = events(trace)
    return {label: sum(e.kind == kind for e in evs) for kind, label in kinds.items()}


def _power_off(trace: Trace, end: float) -> dict[str, list[tuple[float, float]]]:
    """peer -> the stretches it was switched off (HostPower events), for the grey shade on its lanes."""
    out: dict[str, list[tuple[float, float]]] = {}
    for s in trace.steps:
        if getattr(s, "kind", "") != "event" or s.event != "HostPower":
            continue
        spans = out.setdefault(s.peer, [])
        if not s.fields.get("on"):
            spans.append((s.time, end))
        elif spans and spans[-1][1] == end:
            spans[-1] = (spans[-1][0], s.time)
    return out


def tunnel_svg(trace: Trace, now: float | None = None, width: int = 1100) -> str:
    """Bars for SA generations (violet: carrying traffic, amber: replaced, waiting for its Delete),
    lifecycle marks on them, and the current moment as a line."""
    end = float(trace.scenario.get("duration") or 1)
    all_lanes = lanes(trace)
    evs = events(trace, all_lanes)
    left = LEFT + 60
    height = TOP + LANE * max(len(all_lanes), 1) + 40

    def x(t: float) -> float:
        return left + (width - left - 20) * (t / end if end else 0)

    out = [f'<svg class="natt-tunnel" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="SA generations over time">']
    step = _axis_step(end)
    t = 0.0
    while t <= end + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{TOP - 8}" x2="{x(t):.1f}" y2="{height - 30}" stroke="#eceff1"/>')
        out.append(f'<text x="{x(t):.1f}" y="{TOP - 14}" font-size="14" text-anchor="middle" fill="#546e7a">'
                   f'{t:g} s</text>')
        t += step
    for i, lane in enumerate(all_lanes):
        y = TOP + i * LANE
        out.append(f'<text x="{left - 10}" y="{y + 19}" font-size="13" text-anchor="end" fill="#263238" '
                   f'font-family="ui-monospace,monospace">{escape(lane.name)}</text>')
        g = lane.generation
        if g is None:
            out.append(f'<line x1="{left}" y1="{y + LANE / 2:.0f}" x2="{width - 20}" y2="{y + LANE / 2:.0f}" '
                       f'stroke="#cfd8dc"/>')
            continue
        stop = g.end if g.end is not None else end
        handover = g.replaced_at if g.replaced_at is not None else stop
        x0, x1, x2 = x(g.start), x(handover), x(stop)
        tip = f"{lane.name}: {g.start:.1f}–{stop:.1f} s" + (f", {g.ended}" if g.ended else ", alive at the end")
        out.append(f'<rect x="{x0:.1f}" y="{y + 6}" width="{max(x1 - x0, 2):.1f}" height="{LANE - 12}" rx="4" '
                   f'fill="{PROTECTED}" fill-opacity="{.8 if g.phase == 2 else .45}"><title>{escape(tip)}</title></rect>')
        if x2 > x1:
            out.append(f'<rect x="{x1:.1f}" y="{y + 6}" width="{x2 - x1:.1f}" height="{LANE - 12}" rx="2" '
                       f'fill="{TRANSLATED}" fill-opacity=".8"><title>{escape(tip)} — replaced by '
                       f'{escape(g.successor or "")}, kept until its Delete</title></rect>')
    for peer, spans in _power_off(trace, end).items():
        rows = [i for i, lane in enumerate(all_lanes) if lane.peer == peer]
        for a, b in spans:
            for i in rows:
                out.append(f'<rect x="{x(a):.1f}" y="{TOP + i * LANE + 2}" width="{max(x(b) - x(a), 1):.1f}" '
                           f'height="{LANE - 4}" fill="#eceff1" fill-opacity=".75"><title>{escape(peer)} switched off '
                           f'{a:.0f}–{b:.0f} s: its SAs live on only in its own memory</title></rect>')
            if rows:
                out.append(f'<text x="{x(a) + 14:.1f}" y="{TOP + max(rows) * LANE + 20}" font-size="13" '
                           f'fill="{MUTED}">{escape(peer)} switched off</text>')
    row = {lane.name: i for i, lane in enumerate(all_lanes)}
    placed: dict[str, float] = {}         # lane -> x of its last mark: marks at one moment sit side by side
    for e in sorted(evs, key=lambda e: (e.lane, e.time)):
        m, y = MARKS[e.kind], TOP + row[e.lane] * LANE
        xe = max(x(e.time), placed.get(e.lane, -1e9) + 15)
        placed[e.lane] = xe
        out.append(f'<text x="{xe:.1f}" y="{y + 21}" font-size="17" font-weight="700" text-anchor="middle" '
                   f'fill="{m.colour}">{m.symbol}<title>step {e.step} · {e.time:.3f} s · '
                   f'{escape(e.text)}</title></text>')
    if now is not None:
        xn = x(min(max(now, 0), end))
        out.append(f'<line x1="{xn:.1f}" y1="{TOP - 6}" x2="{xn:.1f}" y2="{height - 26}" stroke="{CURRENT}" '
                   f'stroke-width="3"/>')
        out.append(f'<text x="{min(xn, width - 80):.1f}" y="{height - 8}" font-size="15" font-weight="700" '
                   f'text-anchor="middle" fill="{CURRENT}">t = {now:.1f} s</text>')
    if not all_lanes:
        out.append(f'<text x="{left}" y="{TOP + 18}" font-size="14" fill="{MUTED}">no SA came up in this run</text>')
    out.append("</svg>")
    return "".join(out)


def legend() -> list[tuple[str, str]]:
    """(symbol, meaning) for every mark, in MARKS order."""
    return [(m.symbol, m.words) for m in MARKS.values()]


def table(trace: Trace) -> list[dict]:
    """The generations as rows for a data frame."""
    return [{"peer": g.peer, "phase": g.phase, "generation": g.number, "SA": g.sa, "up at (s)": round(g.start, 3),
             "replaced at (s)": None if g.replaced_at is None else round(g.replaced_at, 3),
             "gone at (s)": None if g.end is None else round(g.end, 3), "how it ended": g.ended or "alive"}
            for g in from_trace(trace)]


def lost_packets(trace: Trace) -> list:
    """Protected packets that found no SA (the trace's PacketDropped with NO_IPSEC_SA): what a
    broken rekey would lose."""
    return [s for s in trace.steps if getattr(s, "kind", "") == "event" and s.event == "PacketDropped"
            and s.fields.get("code") == "NO_IPSEC_SA"]


def _step_at(steps, e: LifeEvent) -> int:
    """The lesson step (1-based) of the packet that caused `e`; for a timer, the first packet at or
    after it (the last one if none)."""
    if e.packet_id is not None:
        hit = next((j.index for j in steps if j.packet_id == e.packet_id), None)
        if hit is not None:
            return hit
    return next((j.index for j in steps if j.time >= e.time - 1e-9), len(steps))


def moments(trace: Trace, steps, kinds: tuple[str, ...] = ("SaRekeyStarted", "SaExpired")) -> list[tuple[int, str]]:
    """(lesson step, what happened) for the events of `kinds` (default: rekeys begun and expiries):
    the first packet at or after each."""
    out = []
    for e in events(trace):
        if e.kind not in kinds:
            continue
        at = _step_at(steps, e)
        if e.kind in ("SaRekeyStarted", "SaExpired"):
            out.append((at, f"phase-{'1' if 'ISAKMP' in e.lane else '2'} {SHORT[e.kind]} at {e.time:.0f} s ({e.peer})"))
        else:
            out.append((at, f"{SHORT[e.kind]} at {e.time:.0f} s ({e.peer})"))
    return out


def moment_rows(trace: Trace, steps) -> list[dict]:
    """Every lifecycle event as a table row: when, where, what, and the lesson step to open."""
    return [{"t (s)": round(e.time, 2), "lane": e.lane, "mark": MARKS[e.kind].symbol, "what": SHORT[e.kind],
             "details": e.text, "step": _step_at(steps, e)} for e in events(trace)]
