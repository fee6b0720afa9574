"""Facts the field lessons state, read from a Trace: what failed where, who refused, which ports.

The field lessons (IPsec meets NAT, server behind NAT, several clients, timeouts, L2TP end to
end) never write a fact as prose that the engine could contradict: the failing check, the NAT's
translated ports, matching cookies and the ports a firewall must pass all come from here, and
here they come from the run's hops, peer events, snapshots and report (RFC 3947 §3-§4, RFC 3948
§2-§4, RFC 3715 §2).
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.errors import DecodeError
from natt_core.lab.trace import PeerEvent, Trace
from natt_core.reasons import Reason, reason_of
from natt_core.wire.ip import decode_ipv4_header, decode_udp
from natt_core.wire.numbers import IPProto

from .steps import Journey, journeys

#: peer events that mean "this is where it went wrong"
FAILURE_EVENTS = ("PacketDropped", "Refused", "GaveUp", "AuthenticationFailed")


@dataclass(frozen=True)
class Failure:
    """One thing that went wrong, with the lesson step that shows it."""
    step: int              #: 1-based journey index
    label: str             #: the packet's label (MM4, ESP, keepalive…)
    where: str             #: the NAT or peer that dropped / refused
    kind: str              #: "dropped by a NAT" | "dropped by a peer" | "refused" | "gave up"
    reason: str            #: the engine's sentence, for people
    code: Reason | None = None   #: what decisions read (natt_core.reasons)


def success(trace: Trace) -> bool:
    """Every peer has phase 1 and 2 up, every L2TP message sent was delivered, and every client's VPN
    answered its ping (so a wrong PPP password is a failure too)."""
    peers = trace.report.get("peers", {})
    traffic = trace.report.get("traffic", {})
    up = all(p["phase1"] == "established" and p["phase2"] == "established" for p in peers.values())
    vpn = all(p["vpn"].get("ping") for p in peers.values() if p.get("vpn"))   # PPP up and the ping answered
    return bool(peers) and up and vpn and traffic.get("sent", 0) > 0 and traffic.get("delivered") == traffic.get("sent")


def peer_up(trace: Trace, peer: str) -> bool:
    p = trace.report.get("peers", {}).get(peer)
    return bool(p) and p["phase1"] == "established" and p["phase2"] == "established"


def step_of_event(trace: Trace, event: PeerEvent) -> Journey | None:
    """The lesson step whose peer events include `event`."""
    for j in journeys(trace):
        if event in j.events:
            return j
    return None


def failures(trace: Trace) -> list[Failure]:
    """Every drop and refusal of the run, in time order, each tied to its step."""
    out: list[Failure] = []
    steps = journeys(trace)
    for j in steps:
        if j.dropped:
            out.append(Failure(j.index, j.label, j.last.dst_host or j.last.segment, "dropped by a NAT", j.dropped,
                               reason_of(j.last.drop_code)))
        for e in j.events:
            if e.event not in FAILURE_EVENTS:
                continue
            kind = {"PacketDropped": "dropped by a peer", "Refused": "refused", "GaveUp": "gave up",
                    "AuthenticationFailed": "refused"}[e.event]
            reason = e.fields.get("reason") or e.text
            out.append(Failure(j.index, j.label, e.peer, kind, reason, reason_of(e.fields.get("code"))))
    return out


def first_failure(trace: Trace, kinds: tuple[str, ...] = ("refused", "dropped by a peer", "dropped by a NAT")
                  ) -> Failure | None:
    """The earliest failure of the given kinds: later ones (retransmissions hitting a dead SA) are
    consequences. At the same step a refusal beats a peer's drop, which beats a NAT's."""
    found = [f for f in failures(trace) if f.kind in kinds]
    if not found:
        return None
    return min(found, key=lambda f: (f.step, kinds.index(f.kind)))


@dataclass(frozen=True)
class Outcome:
    """What failed in the end, by layer, as report.json says it (not the first packet lost on the way)."""
    layer: str             #: "IPsec" | "L2TP" | "PPP" | "ping" | "traffic"
    who: str               #: the peer whose layer failed
    sentence: str          #: for people: the layer, the engine's reason and what caused it
    code: Reason | None    #: the failed layer's reason code
    cause: Reason | None   #: the code of what made it fail, when the report names one (a drop, a loss)
    step: Failure | None   #: the failure on the wire that shows it


def _peer_order(name: str) -> tuple[int, str]:
    return (0 if name.startswith("client") else 1), name


def _shown_by(trace: Trace, who: str, *codes: Reason | None) -> Failure | None:
    """The failure on the wire behind the first of `codes` found: the peer's own first, the earliest;
    for a loss, the last one (an early loss was resent, the last one is what the run ended on)."""
    for code in codes:
        found = [f for f in failures(trace) if code is not None and f.code is code]
        if found:
            if code is Reason.LINK_LOSS:
                return found[-1]
            return min(found, key=lambda f: (f.where != who, f.step))
    return None


def _cause(peers: list[tuple[str, dict]]) -> tuple[str | None, Reason | None]:
    """The first reason a peer's report gives (the server's drop that kept L2TP from arriving, a loss)."""
    for _, p in peers:
        if p.get("reason"):
            return p["reason"], reason_of(p.get("reason_code"))
    return None, None


def _vpn_outcome(trace: Trace, name: str, vpn: dict, traffic: dict, peers: list) -> Outcome | None:
    """The first VPN layer above IPsec that did not come up for client `name` (L2TP, then PPP, then the ping)."""
    code = reason_of(vpn.get("reason_code"))
    tunnel, auth = vpn.get("l2tp_tunnel"), vpn.get("ppp_auth")
    if (tunnel != "established" and auth != "succeeded") or (code is not None and code.value.startswith("L2TP")):
        layer, text = "L2TP", (f"the IPsec SAs are up, but {name}'s L2TP did not get through (tunnel {tunnel}, "
                               f"session {vpn.get('l2tp_session')})")
    elif auth != "succeeded":
        layer, text = "PPP", (f"L2TP is up, but {name}'s PPP authentication "
                              + ("failed" if auth == "failed" else f"never succeeded ({auth or 'not started'})"))
    elif not vpn.get("ping"):
        layer, text = "ping", f"PPP is up ({name} got {vpn.get('address')}), but its ping through the VPN did not come back"
    else:
        return None
    why, cause = _cause(peers)
    sentence = f"{text}" + (f": {vpn['reason']}" if vpn.get("reason") else "")
    sentence += (f". {traffic.get('delivered', 0)} of {traffic.get('sent', 0)} L2TP messages arrived"
                 + (f"; {why}" if why else ""))
    return Outcome(layer, name, sentence, code, cause, _shown_by(trace, name, cause, code))


def decisive_failure(trace: Trace) -> Outcome | None:
    """What really failed, from report.json: a peer without an IPsec SA (and why), else the first
    VPN layer that did not come up (L2TP, PPP, the ping), else the L2TP messages that did not
    arrive. A packet lost early and then resent is not it; None for a run that works."""
    peers = sorted(trace.report.get("peers", {}).items(), key=lambda kv: _peer_order(kv[0]))
    traffic = trace.report.get("traffic", {})
    for name, p in peers:
        for phase, what in (("phase1", "phase 1 (the IKE SA)"), ("phase2", "phase 2 (the IPsec SA)")):
            if p[phase] != "established":
                code = reason_of(p.get("reason_code"))
                return Outcome("IPsec", name, f"no IPsec SA for {name}: {what} {p[phase]}"
                               + (f" — {p['reason']}" if p.get("reason") else ""), code, code,
                               _shown_by(trace, name, code))
    for name, p in peers:
        if p.get("vpn"):
            found = _vpn_outcome(trace, name, p["vpn"], traffic, peers)
            if found is not None:
                return found
    if success(trace):
        return None
    why, cause = _cause(peers)
    return Outcome("traffic", peers[0][0] if peers else "", f"the IPsec SAs are up, but {traffic.get('delivered', 0)} "
                   f"of {traffic.get('sent', 0)} L2TP messages arrived" + (f": {why}" if why else ""), cause, cause,
                   _shown_by(trace, peers[0][0] if peers else "", cause))


def first_step(trace: Trace, label: str, sender: str | None = None) -> Journey | None:
    for j in journeys(trace):
        if j.label == label and (sender is None or j.sender == sender):
            return j
    return None


def refusal(trace: Trace) -> tuple[PeerEvent, Journey | None] | None:
    """The Refused event (a Windows peer's AssumeUDPEncapsulationContextOnSendRule) and its step."""
    for e in trace.events:
        if e.event == "Refused":
            return e, step_of_event(trace, e)
    return None


def ports_of(packet: bytes) -> tuple[int, int, int] | None:
    """(IP protocol, source port, destination port) of a packet; ports 0 without UDP."""
    try:
        ip, body = decode_ipv4_header(packet, fragments=True)
        if ip.proto == IPProto.UDP and ip.flags_frag & 0x3FFF and len(body) >= 4:
            if ip.flags_frag & 0x1FFF:          # a later IP fragment: no UDP header, no ports
                return ip.proto, 0, 0
            # the first fragment carries the UDP header, its length field that of the whole datagram
            return ip.proto, int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big")
        if ip.proto == IPProto.UDP:
            udp, _ = decode_udp(body, 20)
            return ip.proto, udp.sport, udp.dport
        return ip.proto, 0, 0
    except DecodeError:
        return None


PROTO_NAME = {IPProto.UDP: "UDP", IPProto.ESP: "ESP (IP protocol 50)", IPProto.AH: "AH (IP protocol 51)",
              IPProto.TCP: "TCP"}


def wire_rules(trace: Trace, segment: str = "internet") -> list[dict]:
    """What the clients sent across `segment` towards the server, grouped by protocol and port: the
    inbound rules a firewall (or port forward) in front of the server needs for this run."""
    rules: dict[tuple, dict] = {}
    for j in journeys(trace):
        if j.sender == "server":
            continue
        for h in j.hops:
            if h.segment != segment:
                continue
            p = ports_of(h.packet)
            if p is None:
                continue
            proto, _, dport = p
            key = (proto, dport)
            name = PROTO_NAME.get(proto, f"IP protocol {proto}")
            row = rules.setdefault(key, {"protocol": name, "destination port": dport or "—", "packets": 0,
                                         "what": set(), "first step": j.index})
            row["packets"] += 1
            row["what"].add(j.label)
    out = []
    for row in rules.values():
        out.append(row | {"what": ", ".join(sorted(row["what"]))})
    return sorted(out, key=lambda r: r["first step"])


@dataclass(frozen=True)
class MappingLife:
    """One NAT mapping from the snapshots: when it appeared, when it was last there, how it ended."""
    device: str
    proto: str
    inside: str
    outside: str
    kind: str
    start: float
    end: float
    expired: bool          #: gone before the run ended (idle timeout) rather than cut by the end


def mapping_lives(trace: Trace, device: str) -> list[MappingLife]:
    """Every mapping `device` ever held, with its lifetime on the virtual clock."""
    open_: dict[tuple, list] = {}
    done: list[MappingLife] = []
    end = float(trace.scenario.get("duration") or 0)
    snaps = [s for s in trace.snapshots if s.owner == device and s.table == "nat"]
    for snap in snaps:
        now = {(r["proto"], r["inside"], r["outside"]): r for r in snap.rows}
        for key in list(open_):
            if key not in now:
                start, kind = open_.pop(key)
                done.append(MappingLife(device, *key, kind, start, snap.time, True))
        for key, r in now.items():
            if key not in open_:
                open_[key] = [snap.time, r.get("kind") or ""]
    for key, (start, kind) in open_.items():
        done.append(MappingLife(device, *key, kind, start, max(end, start), False))
    return sorted(done, key=lambda m: (m.start, m.outside))


def isakmp_pairs(trace: Trace) -> list[dict]:
    """Each client's phase-1 SA beside the server's SA with the same cookies (final snapshots)."""
    last = len(trace.steps) - 1
    server = {(r.get("icookie"), r.get("rcookie")): r for r in trace.table_at("server", "isakmp", last)}
    rows = []
    for peer in [a["device"] for a in trace.topology if a["kind"] == "host" and a["device"] != "server"]:
        mine = trace.table_at(peer, "isakmp", last)
        if not mine:
            rows.append({"client": peer, "cookies (I:R)": "— no ISAKMP SA —", "client sees server at": "—",
                         "server sees client at": "—", "same SA on both": "✗ none"})
            continue
        for r in mine:
            key = (r.get("icookie"), r.get("rcookie"))
            other = server.get(key)
            rows.append({"client": peer, "cookies (I:R)": f"{key[0]}:{key[1]}",
                         "client sees server at": r.get("remote"),
                         "server sees client at": other.get("remote") if other else "—",
                         "same SA on both": "✓ same cookies" if other else "✗ server has no such SA"})
    return rows


def keepalive_times(trace: Trace) -> dict[str, list[float]]:
    """Peer -> times it sent a NAT keepalive (0xFF), from the packets on the wire."""
    out: dict[str, list[float]] = {}
    for j in journeys(trace):
        if j.label == "keepalive":
            out.setdefault(j.sender, []).append(j.time)
    return out
