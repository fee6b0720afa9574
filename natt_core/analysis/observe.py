"""What a capture shows, packet by packet: IKE messages grouped into exchanges, ESP by SPI, keepalives.

Nothing here needs a key. Main Mode messages are named from what anyone can see (RFC 2409 §5:
who sends, the E flag, the first payload); Quick Mode messages by their order within one Message
ID (§5.5); a packet with the same bytes as an earlier one is a retransmission. NAT-D hashes are
public too (RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port), the hash chosen in MM2 or told by the
hash length), so each one is checked against the addresses this very capture point saw.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..addressing import Endpoint
from ..capture_read import Capture
from ..crypto.natd import HASH_BY_LENGTH, natd_hash
from ..errors import DecodeError
from ..ike.nat_t import version_of_vid, vid_name
from ..ike.proposals import read_phase1
from ..wire.isakmp import SA, NatD, Notification, VendorID, decode_header, decode_payloads
from ..wire.numbers import ExchangeType, Flag, IPProto, PayloadType, Port, notify_name
from ..wire.udp_encap import Kind, classify_4500



@dataclass(frozen=True)
class NatdCheck:
    """One MM3/MM4's NAT-D hashes against the addresses on this capture's segment."""
    message: str                    #: "MM3" or "MM4"
    dst: Endpoint                   #: the packet's destination here
    src: Endpoint                   #: the packet's source here
    dst_matches: bool               #: first NAT-D = HASH(destination here): nothing rewrote it before here
    src_matches: bool               #: a later NAT-D = HASH(source here): the sender's own address, unchanged
    src_same_ip_other_port: int | None = None   #: the sender's own port, if only the port was changed


@dataclass
class IkeMessage:
    index: int                      #: packet number in the capture (1-based, as Wireshark counts)
    time: float
    src: Endpoint
    dst: Endpoint
    on_4500: bool
    exchange: int
    message_id: int
    encrypted: bool
    from_initiator: bool
    label: str
    payloads: tuple[str, ...]
    retransmission: bool = False
    notifications: tuple[str, ...] = ()


@dataclass
class Exchange:
    """Everything sharing one initiator cookie: one ISAKMP SA negotiation and what it carried."""
    icookie: bytes
    rcookie: bytes = bytes(8)
    initiator: Endpoint | None = None
    responder: Endpoint | None = None
    messages: list[IkeMessage] = field(default_factory=list)
    vids_initiator: tuple[str, ...] = ()
    vids_responder: tuple[str, ...] = ()
    nat_t: str | None = None        #: the version the responder answered with
    hash: str | None = None         #: the phase-1 hash chosen in MM2
    offered: tuple[str, ...] = ()   #: MM1's transforms, readable
    chosen: str | None = None       #: MM2's transform, readable
    natd: list[NatdCheck] = field(default_factory=list)

    def of(self, label: str) -> list[IkeMessage]:
        return [m for m in self.messages if m.label == label]


@dataclass
class EspFlow:
    spi: int
    src: Endpoint
    dst: Endpoint
    encapsulated: bool              #: ESP-in-UDP (RFC 3948) rather than IP protocol 50
    times: list[float] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)


@dataclass
class Observations:
    exchanges: dict[bytes, Exchange] = field(default_factory=dict)
    esp: dict[tuple, EspFlow] = field(default_factory=dict)
    ah: list[tuple[int, Endpoint, Endpoint]] = field(default_factory=list)
    keepalives: list[tuple[int, float, Endpoint, Endpoint]] = field(default_factory=list)
    undecodable: list[tuple[int, str]] = field(default_factory=list)
    fragments: list[tuple[int, str, str, int]] = field(default_factory=list)   #: (packet, src, dst, IP protocol)
    other: int = 0
    labels: dict[int, str] = field(default_factory=dict)   #: packet number -> what it is (MM1, ESP, keepalive…)
    packets: int = 0
    duration: float = 0.0


def observe(capture: Capture) -> Observations:
    obs, seen = Observations(), set()
    for n, cp in enumerate(capture.packets, start=1):
        obs.packets, obs.duration = n, cp.time
        if _fragment(obs, n, cp.packet):
            continue
        try:
            _one(obs, n, cp.time, cp.packet, seen)
        except DecodeError as exc:
            obs.undecodable.append((n, str(exc)))
    return obs


def _fragment(obs: Observations, n: int, packet: bytes) -> bool:
    """Note an IPv4 fragment (more-fragments flag or an offset): IKE with certificates and big ESP
    packets fragment, and many NATs and firewalls drop fragments (RFC 7383 §1)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or not int.from_bytes(packet[6:8], "big") & 0x3FFF:
        return False
    src, dst = (str(ipaddress.IPv4Address(packet[i:i + 4])) for i in (12, 16))
    obs.fragments.append((n, src, dst, packet[9]))
    obs.labels[n] = "IP fragment"
    return True


def ipv4_parts(packet: bytes) -> tuple[int, str, str, bytes]:
    """(protocol, source, destination, payload), as leniently as a capture needs: header options
    are skipped and checksums are not judged (a capture taken on the sending host shows them
    before the network card fills them in); fragments cannot be read without reassembly."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise DecodeError("IPv4", 0, "not an IPv4 header")
    ihl = (packet[0] & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    if ihl < 20 or total < ihl or total > len(packet):
        raise DecodeError("IPv4", 2, f"header length {ihl} / total length {total} do not fit {len(packet)} "
                                     "captured bytes (a snap length cut the packet?)")
    if int.from_bytes(packet[6:8], "big") & 0x3FFF:
        raise DecodeError("IPv4", 6, "an IP fragment: reassembly is not done here")
    src, dst = (str(ipaddress.IPv4Address(packet[i:i + 4])) for i in (12, 16))
    return packet[9], src, dst, packet[ihl:total]


def _one(obs: Observations, n: int, t: float, packet: bytes, seen: set) -> None:
    proto, src_ip, dst_ip, body = ipv4_parts(packet)
    if proto == IPProto.ESP:
        _esp(obs, n, t, body, Endpoint(src_ip), Endpoint(dst_ip), False)
        return
    if proto == IPProto.AH:
        obs.ah.append((n, Endpoint(src_ip), Endpoint(dst_ip)))
        obs.labels[n] = "AH"
        return
    if proto != IPProto.UDP:
        obs.other += 1
        return
    if len(body) < 8 or int.from_bytes(body[4:6], "big") > len(body):
        raise DecodeError("UDP", 20, "truncated UDP header or length")
    sport, dport = int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big")
    payload = body[8:int.from_bytes(body[4:6], "big")]
    src, dst = Endpoint(src_ip, sport), Endpoint(dst_ip, dport)
    if Port.NAT_T in (sport, dport):
        kind, ike = classify_4500(payload)
        if kind is Kind.KEEPALIVE:
            obs.keepalives.append((n, t, src, dst))
            obs.labels[n] = "keepalive"
        elif kind is Kind.ESP:
            _esp(obs, n, t, ike, src, dst, True)
        else:
            _ike(obs, n, t, ike, src, dst, True, seen)
    elif Port.IKE in (sport, dport):
        _ike(obs, n, t, payload, src, dst, False, seen)
    else:
        obs.other += 1


def _esp(obs, n, t, data: bytes, src: Endpoint, dst: Endpoint, encapsulated: bool) -> None:
    if len(data) < 8:
        raise DecodeError("ESP", 0, f"{len(data)} bytes: shorter than SPI and sequence number")
    spi = int.from_bytes(data[:4], "big")
    flow = obs.esp.setdefault((spi, src, dst), EspFlow(spi, src, dst, encapsulated))
    flow.times.append(t)
    flow.indexes.append(n)
    obs.labels[n] = "ESP-in-UDP" if encapsulated else "ESP"


def _ike(obs, n, t, message: bytes, src, dst, on_4500: bool, seen: set) -> None:
    header, body = decode_header(message)
    ex = obs.exchanges.setdefault(header.icookie, Exchange(header.icookie))
    if header.rcookie != bytes(8):
        ex.rcookie = header.rcookie
    encrypted = bool(header.flags & Flag.ENCRYPTED)
    chain = None if encrypted else decode_payloads(header.next_payload, body, max_padding=0)
    first_mm1 = header.exchange == ExchangeType.MAIN_MODE and header.rcookie == bytes(8)
    if ex.initiator is None:
        ex.initiator, ex.responder = (src, dst) if first_mm1 or not ex.messages else (dst, src)
    from_initiator = src.ip == ex.initiator.ip and (src.ip != ex.responder.ip or src.port == ex.initiator.port)
    retransmission = (header.icookie, message) in seen
    seen.add((header.icookie, message))
    msg = IkeMessage(n, t, src, dst, on_4500, header.exchange, header.message_id, encrypted, from_initiator,
                     "", tuple(type(p).__name__ for p in chain.payloads) if chain else ("(encrypted)",),
                     retransmission)
    msg.label = _label(ex, msg, chain)
    obs.labels[n] = msg.label
    if chain is not None:
        _learn(ex, msg, chain, header)
    ex.messages.append(msg)


def _label(ex: Exchange, m: IkeMessage, chain) -> str:
    if m.exchange == ExchangeType.MAIN_MODE:
        if m.encrypted:
            return "MM5" if m.from_initiator else "MM6"
        first = chain.payloads[0].payload_type if chain.payloads else 0
        if first == PayloadType.SA:
            return "MM1" if m.from_initiator else "MM2"
        return "MM3" if m.from_initiator else "MM4"
    if m.exchange == ExchangeType.QUICK_MODE:
        earlier = [x for x in ex.messages if x.exchange == m.exchange and x.message_id == m.message_id]
        if m.retransmission:
            return next(x.label for x in earlier if x.src == m.src)
        return f"QM{min(len({x.label for x in earlier}) + 1, 3)}"
    if m.exchange == ExchangeType.INFORMATIONAL:
        return "INFO"
    return f"exchange {m.exchange}"



def _learn(ex: Exchange, m: IkeMessage, chain, header) -> None:
    vids = tuple(vid_name(p.data) for p in chain.payloads if isinstance(p, VendorID))
    m.notifications = tuple(notify_name(p.notify_type) for p in chain.payloads if isinstance(p, Notification))
    sa = chain.first(SA)
    if m.label == "MM1":
        ex.vids_initiator = vids
        if sa is not None:
            ex.offered = tuple(_transform_text(t) for p in sa.proposals for t in p.transforms)
    elif m.label == "MM2":
        ex.vids_responder = vids
        versions = [version_of_vid(p.data) for p in chain.payloads if isinstance(p, VendorID)]
        ex.nat_t = next((v.value for v in versions if v), None)
        if sa is not None and sa.proposals and sa.proposals[0].transforms:
            choice = read_phase1(sa.proposals[0].transforms[0])
            ex.hash = choice.hash if choice else None
            ex.chosen = _transform_text(sa.proposals[0].transforms[0])
    hashes = [p.hash for p in chain.payloads if isinstance(p, NatD)]
    if m.label in ("MM3", "MM4") and len(hashes) >= 2 and not m.retransmission:
        ex.natd.append(_check_natd(ex, m, hashes, header))


def _transform_text(t) -> str:
    c = read_phase1(t)
    return f"{c.cipher}/{c.hash}/group {c.group}" if c else f"transform {t.number} (not readable here)"


def _check_natd(ex: Exchange, m: IkeMessage, hashes: list[bytes], header) -> NatdCheck:
    name = ex.hash or HASH_BY_LENGTH.get(len(hashes[0]), "sha1")
    cki, ckr = header.icookie, header.rcookie

    def h(ip: str, port: int) -> bytes:
        return natd_hash(name, cki, ckr, ip, port)
    sources = set(hashes[1:])
    other_port = next((p for p in (Port.IKE, Port.NAT_T) if p != m.src.port and h(m.src.ip, p) in sources), None)
    return NatdCheck(m.label, m.dst, m.src, h(m.dst.ip, m.dst.port) == hashes[0], h(m.src.ip, m.src.port) in sources,
                     other_port)
