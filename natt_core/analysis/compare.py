"""Two captures from the two sides of one NAT: what the NAT did to every packet it carried.

A NAT rewrites IP addresses, ports and checksums but never the transport payload: the IKE
message (behind the non-ESP marker or not), the ESP packet from its SPI on, the AH packet. So a
packet seen on both sides is paired by that payload, in order (keepalives all look alike and pair
by order too). A pair says which header fields the NAT changed; a packet seen on one side only
was dropped by the NAT (or fell outside the other capture's time window) — e.g. the second
client's MM1 that a static-port-500 helper refuses.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from ..capture_read import Capture
from ..errors import DecodeError
from ..wire.numbers import IPProto
from .packets import Address
from .packets import ip_parts

PROTO_NAMES = {IPProto.UDP: "udp", IPProto.ESP: "esp", IPProto.AH: "ah"}


@dataclass(frozen=True)
class Seen:
    index: int               #: Wireshark's frame number in its capture
    time: float
    proto: int
    src: Address
    dst: Address


@dataclass(frozen=True)
class Pair:
    a: Seen
    b: Seen
    payload_len: int         #: bytes the NAT left untouched

    @property
    def changes(self) -> tuple[str, ...]:
        """The header fields that differ, in words: 'source 192.168.11.20:500 → 192.168.1.30:54564'."""
        out = []
        for side, x, y in (("source", self.a.src, self.b.src), ("destination", self.a.dst, self.b.dst)):
            if x != y:
                out.append(f"{side} {x} → {y}")
        return tuple(out)


@dataclass(frozen=True)
class Translation:
    """One mapping the NAT used: an endpoint as side A sees it and as side B sees it, towards one remote."""
    proto: str
    a: Address              #: e.g. the inside host 192.168.11.20:500
    b: Address              #: what it became on the other side, e.g. 192.168.1.30:54564
    remote: Address         #: the peer it talks to (as side A sees it)
    sent: int                #: packets from `a` (their source was rewritten)
    received: int            #: packets to `a` (their destination was rewritten back)
    first: float

    @property
    def kept_port_500(self) -> bool:
        """IKE from port 500 left still on 500: what a static-port-500 "IPsec helper" does."""
        return self.proto == "udp" and self.a.port == 500 == self.b.port and self.a.ip != self.b.ip


@dataclass(frozen=True)
class Comparison:
    pairs: tuple[Pair, ...]
    only_a: tuple[Seen, ...]          #: seen on side A only
    only_b: tuple[Seen, ...]
    translations: tuple[Translation, ...]


def _invariant(packet: bytes) -> tuple[int, Address, Address, bytes] | None:
    """(protocol, source, destination, the bytes a NAT does not rewrite)."""
    try:
        ip = ip_parts(packet)
    except DecodeError:
        return None
    if ip.fragment is not None:
        return None
    proto, src, dst, body = ip.proto, ip.src, ip.dst, ip.payload
    if proto == IPProto.UDP:
        if len(body) < 8:
            return None
        sport, dport = int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big")
        return proto, Address(src, sport), Address(dst, dport), body[8:]
    if proto in (IPProto.ESP, IPProto.AH):
        return proto, Address(src), Address(dst), body
    return None


def compare(a: Capture, b: Capture) -> Comparison:
    waiting: dict[tuple[int, bytes], deque[Seen]] = defaultdict(deque)
    for cp in b.packets:
        inv = _invariant(cp.packet)
        if inv:
            proto, src, dst, payload = inv
            waiting[(proto, payload)].append(Seen(cp.frame, cp.time, proto, src, dst))
    pairs, only_a = [], []
    for cp in a.packets:
        inv = _invariant(cp.packet)
        if not inv:
            continue
        proto, src, dst, payload = inv
        seen = Seen(cp.frame, cp.time, proto, src, dst)
        queue = waiting.get((proto, payload))
        if queue:
            pairs.append(Pair(seen, queue.popleft(), len(payload)))
        else:
            only_a.append(seen)
    only_b = sorted((s for q in waiting.values() for s in q), key=lambda s: s.index)
    return Comparison(tuple(pairs), tuple(only_a), tuple(only_b), _translations(pairs))


def _translations(pairs: list[Pair]) -> tuple[Translation, ...]:
    flows: dict[tuple, list] = {}
    for p in pairs:
        proto = PROTO_NAMES.get(p.a.proto, str(p.a.proto))
        if p.a.src != p.b.src:
            key, way = (proto, p.a.src, p.b.src, p.a.dst), 0
        elif p.a.dst != p.b.dst:
            key, way = (proto, p.a.dst, p.b.dst, p.a.src), 1
        else:
            continue
        counts = flows.setdefault(key, [0, 0, p.a.time])
        counts[way] += 1
    return tuple(sorted((Translation(proto, a, b, remote, sent, received, first)
                         for (proto, a, b, remote), (sent, received, first) in flows.items()),
                        key=lambda t: t.first))
