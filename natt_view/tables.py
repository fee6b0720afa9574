"""The tables of a step: each NAT's translations and each peer's SA databases, as plain rows.

Rows come from the trace's snapshots (`Trace.table_at`), so they show the state right after the
step's last event, exactly as the engine recorded it. Column names are the words a lesson uses.
"""
from __future__ import annotations

from html import escape

from natt_core.lab.trace import Trace

from .steps import Journey, visible_events


def nat_devices(trace: Trace) -> list[str]:
    names = []
    for a in trace.topology:
        if a["kind"].startswith("nat") and a["device"] not in names:
            names.append(a["device"])
    return names


def peers(trace: Trace) -> list[str]:
    return [a["device"] for a in trace.topology if a["kind"] == "host"]


def nat_rows(trace: Trace, device: str, step: int) -> list[dict]:
    """The NAT's translation table at `step`: who inside is whom outside, and for how long."""
    out = []
    for r in trace.table_at(device, "nat", step):
        allowed = r.get("allowed") or ()
        out.append({"proto": r.get("proto"), "inside": r.get("inside"), "outside": r.get("outside"),
                    "kind": r.get("kind"), "remote peers allowed": ", ".join(allowed) or "any",
                    "expires at (s)": r.get("expires"), **({"ESP SPI": r["spi"]} if r.get("spi") else {})})
    return out


def isakmp_rows(trace: Trace, peer: str, step: int) -> list[dict]:
    """Phase-1 SAs as this peer holds them: cookies, endpoints as it sees them, NAT verdict."""
    out = []
    for r in trace.table_at(peer, "isakmp", step):
        out.append({"peer": peer})
        behind = [w for w, flag in (("this side", r.get("self_behind_nat")), ("peer", r.get("peer_behind_nat"))) if flag]
        out[-1].update({"state": r.get("state"), "cookies (I:R)": f"{r.get('icookie')}:{r.get('rcookie')}",
                    "local": r.get("local"), "remote": r.get("remote"), "NAT-T": r.get("nat_t") or "—",
                    "behind NAT": ", ".join(behind) or "nobody",
                    "cipher / hash / DH": f"{r.get('cipher') or '—'} / {r.get('hash') or '—'} / {r.get('dh_group') or '—'}"})
    return out


def ipsec_rows(trace: Trace, peer: str, step: int) -> list[dict]:
    """Phase-2 SAs: SPIs both ways, mode and encapsulation value, NAT-OA as received."""
    out = []
    for r in trace.table_at(peer, "ipsec", step):
        out.append({"peer": peer, "protocol": r.get("protocol"), "mode": r.get("mode"), "encapsulation": r.get("encapsulation"),
                    "SPI in": r.get("spi_in"), "SPI out": r.get("spi_out"), "local": r.get("local"),
                    "remote": r.get("remote"), "NAT-OA": " / ".join(r.get("nat_oa") or ()) or "—"})
    return out


def spd_rows(trace: Trace, peer: str, step: int) -> list[dict]:
    """A server's security policy database (natt_core.ipsec.spd): the selector each IPsec SA
    installed, the client it names (as seen after the NAT) and whether it still decides."""
    return [{"selector": r.get("selector"), "told apart by": r.get("key"), "client seen at": r.get("peer"),
             "cookies (I:R)": r.get("cookies"), "SPI in": r.get("spi_in"), "SPI out": r.get("spi_out"),
             "state": ("✓ " if r.get("state") == "active" else "✗ ") + str(r.get("state")),
             "note": r.get("note") or "—"} for r in trace.table_at(peer, "spd", step)]


def ipsec_pairs(trace: Trace, server: str = "server") -> list[dict]:
    """Each client's IPsec SAs beside the server's SA for the same traffic: the client's inbound SPI
    is the server's outbound one and back (final snapshots)."""
    last = len(trace.steps) - 1
    theirs = {r.get("spi_out"): r for r in trace.table_at(server, "ipsec", last)}
    rows = []
    for peer in (p for p in peers(trace) if p != server):
        mine = trace.table_at(peer, "ipsec", last)
        if not mine:
            rows.append({"client": peer, "client SPI in / out": "— no IPsec SA —", "server SPI in / out": "—",
                         "mode": "—", "server sees client at": "—", "same SA on both": "✗ none"})
        for r in mine:
            other = theirs.get(r.get("spi_in"))
            rows.append({"client": peer, "client SPI in / out": f"{r.get('spi_in')} / {r.get('spi_out')}",
                         "server SPI in / out": f"{other.get('spi_in')} / {other.get('spi_out')}" if other else "—",
                         "mode": r.get("mode"), "server sees client at": other.get("remote") if other else "—",
                         "same SA on both": "✓ SPIs match" if other and other.get("spi_in") == r.get("spi_out")
                         else "✗ server has no such SA"})
    return rows


def events_html(j: Journey) -> str:
    """The peers' own sentences about this packet, in order, as an HTML list."""
    items = []
    for e in visible_events(j):
        text = escape(e.text)
        who = escape(e.peer)
        if text.startswith(who):
            text = f'<span class="who">{who}</span>' + text[len(who):]
        items.append(f"<li>{text}</li>")
    if not items:
        return '<p class="natt-events">No peer said anything about this packet.</p>'
    return '<ul class="natt-events">' + "".join(items) + "</ul>"


def outcome_lines(trace: Trace) -> list[str]:
    """One line per peer from report.json: phase 1, phase 2, NAT-T, and the reason if it failed."""
    lines = []
    for name, p in trace.report.get("peers", {}).items():
        line = f"**{name}**: phase 1 {p['phase1']}, phase 2 {p['phase2']}, NAT-T {p['nat_t'] or 'not negotiated'}"
        if p.get("floated"):
            line += ", floated to 4500"
        if p.get("reason"):
            line += f" — {p['reason']}"
        vpn = p.get("vpn")
        if vpn:
            line += (f"; VPN up: PPP address {vpn['address']}, ping answered" if vpn.get("ping") else
                     f"; VPN down (L2TP tunnel {vpn.get('l2tp_tunnel')}, PPP authentication {vpn.get('ppp_auth')})"
                     + (f": {vpn['reason_code']}" if vpn.get("reason_code") else ""))
        lines.append(line)
    t = trace.report.get("traffic", {})
    lines.append(f"L2TP messages sent {t.get('sent', 0)}, delivered {t.get('delivered', 0)}")
    return lines
