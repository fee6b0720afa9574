"""The ladder: a run as readable text, one line per hop or peer event, in virtual-time order.

A hop line says who sent what to whom on which segment; a NAT's line adds the fields it rewrote
(address, port, checksums); a drop names its reason. Peer events carry their own sentence.
"""
from __future__ import annotations

from .trace import Hop, PeerEvent, Trace

QUIET_EVENTS = ("MessageSent",)      # the hop line already shows the packet


def hop_line(h: Hop) -> str:
    where = f"[{h.segment}]"
    who = f"{h.device if h.device != h.src_host else h.src_host} -> {h.dst_host or '?'}"
    text = f"{h.time:9.3f}s {where:14} {who:30} {h.label}"
    if h.changes:
        text += "  | " + h.device + " rewrote " + ", ".join(f"{c.name} {c.old}->{c.new}" for c in h.changes)
    if h.note:
        text += f"  ({h.note})"
    if h.dropped:
        text += f"  | DROPPED by {h.dst_host or h.segment}: {h.dropped}"
    return text


def event_line(e: PeerEvent) -> str:
    return f"{e.time:9.3f}s {'':14} * {e.text}"


def ladder(trace: Trace, verbose: bool = False) -> list[str]:
    lines = []
    for step in trace.steps:
        if isinstance(step, Hop):
            lines.append(hop_line(step))
        elif verbose or step.event not in QUIET_EVENTS:
            lines.append(event_line(step))
    return lines


def summary(trace: Trace) -> list[str]:
    """The outcome per peer, from report.json."""
    r = trace.report
    out = [f"outcome of {r['scenario']}: L2TP messages sent {r['traffic']['sent']}, "
           f"delivered {r['traffic']['delivered']}"]
    for name, p in r["peers"].items():
        line = f"  {name}: phase 1 {p['phase1']}, phase 2 {p['phase2']}, NAT-T {p['nat_t'] or 'none'}"
        line += f", DH group {p['dh_group']}" if p["dh_group"] else ""
        line += ", floated to 4500" if p["floated"] else ""
        if p["reason"]:
            line += f"\n    reason: {p['reason']}"
        vpn = p.get("vpn")
        if vpn:
            line += (f"\n    vpn: L2TP tunnel {vpn['l2tp_tunnel']}, session {vpn['l2tp_session']}, PPP authentication "
                     f"{vpn['ppp_auth']}, address {vpn['address'] or 'none'}, ping {'answered' if vpn['ping'] else 'no'}")
            if vpn.get("reason_code"):
                line += f"\n    vpn reason ({vpn['reason_code']}): {vpn['reason']}"
        out.append(line)
    return out
