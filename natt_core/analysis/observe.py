"""What a capture shows, packet by packet: IKE messages grouped into exchanges, ESP/AH by SPI, keepalives.

Nothing here needs a key. An IKEv1 message is named by what it is, not by its first payload: the
responder cookie (zero only in the initiator's first message), the exchange type, the direction
(who started the exchange) and what its plaintext carries (SA, KE) decide MM1…MM6, AM1…AM3 and,
per Message ID, QM1…QM3 (RFC 2409 §5, §5.4, §5.5). A packet with the same bytes as an earlier one
is a retransmission. NAT-D hashes are public (RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port), the
hash chosen in MM2 or told by its length), so each is checked against the addresses this very
capture point saw. IKEv2 (version 0x20) is read by `ikev2`. Every step is O(1) per packet.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from ..capture_read import Capture
from ..errors import DecodeError
from ..wire.numbers import IPProto, Port, notify_name
from . import dialects
from .ikev1_fragments import V1Fragments, is_fragment
from .packets import Address, IpPacket, Reassembler, ip_parts
from .payloads import notify_v1, sa_summary, walk

_UDP_HEADER = struct.Struct("!HHH").unpack_from
HASH_BY_LENGTH = {16: "md5", 20: "sha1", 32: "sha256", 48: "sha384", 64: "sha512"}
_EXCHANGE_NAMES = {1: "Base", 3: "Authentication Only", 5: "INFO", 6: "Mode Config", 33: "New Group Mode",
                   **dialects.AUTHIP_EXCHANGES}


@dataclass(frozen=True)
class NatdCheck:
    """One message's NAT-D hashes against the addresses on this capture's segment."""
    message: str                    #: "MM3", "MM4", "AM2" or "AM3"
    dst: Address                    #: the packet's destination here
    src: Address                    #: the packet's source here
    dst_matches: bool               #: first NAT-D = HASH(destination here): nothing rewrote it before here
    src_matches: bool               #: a later NAT-D = HASH(source here): the sender's own address, unchanged
    src_same_ip_other_port: int | None = None   #: the sender's own port, if only the port was changed
    from_initiator: bool = True


@dataclass
class IkeMessage:
    index: int                      #: Wireshark's frame number
    time: float
    src: Address
    dst: Address
    on_4500: bool
    exchange: int
    message_id: int
    encrypted: bool
    from_initiator: bool
    label: str
    payloads: tuple[int, ...]
    retransmission: bool = False
    notifications: tuple[str, ...] = ()
    notify_data: tuple[tuple[str, bytes], ...] = ()   #: IKEv2: (notify name, its data), in the clear
    sk_len: int | None = None       #: IKEv2: bytes in the SK/SKF payload body (IV | ciphertext | ICV)
    fragment: tuple[int, int] | None = None   #: IKEv2 RFC 7383: (fragment number, total fragments)
    size: int = 0                   #: the IKE message's length
    fragment_frames: tuple[int, ...] = ()   #: IKEv1: the frames of the IKE fragments it was joined from


@dataclass
class Exchange:
    """Everything sharing one initiator cookie (IKEv1) or initiator SPI (IKEv2)."""
    icookie: bytes
    rcookie: bytes = bytes(8)
    version: int = 1
    initiator: Address | None = None
    responder: Address | None = None
    messages: list[IkeMessage] = field(default_factory=list)
    vids_initiator: tuple[str, ...] = ()
    vids_responder: tuple[str, ...] = ()
    natt_initiator: dialects.NattDialect | None = None
    natt: dialects.NattDialect | None = None     #: the best NAT-T version the responder answered with
    hash: str | None = None         #: the phase-1 hash chosen in MM2
    auth: int | None = None         #: the authentication method chosen (or offered) in the SA
    offered: tuple[str, ...] = ()   #: MM1's transforms, readable
    chosen: str | None = None       #: MM2's transform, readable
    natd: list[NatdCheck] = field(default_factory=list)
    mid: bool = False               #: the capture starts after the exchange began
    by_label: dict[str, list[IkeMessage]] = field(default_factory=dict)
    quick: dict[int, dict] = field(default_factory=dict)   #: Message ID -> QM state
    natd_types: set[int] = field(default_factory=set)
    undecodable: list[tuple[int, str]] = field(default_factory=list)   #: IKEv2: (frame, what the decoder said)

    @property
    def nat_t(self) -> str | None:
        return self.natt.name if self.natt else None

    @property
    def aggressive(self) -> bool:
        return "AM1" in self.by_label or "AM2" in self.by_label

    @property
    def authip(self) -> bool:
        return any(m.exchange in dialects.AUTHIP_EXCHANGES for m in self.messages[:4]) or \
            dialects.is_authip(self.vids_initiator + self.vids_responder)

    def of(self, label: str) -> list[IkeMessage]:
        return self.by_label.get(label, [])


@dataclass
class EspFlow:
    spi: int
    src: Address
    dst: Address
    encapsulated: bool              #: ESP-in-UDP (RFC 3948) rather than IP protocol 50
    times: list[float] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)


@dataclass
class Observations:
    exchanges: dict[bytes, Exchange] = field(default_factory=dict)
    esp: dict[tuple, EspFlow] = field(default_factory=dict)
    ah: list[tuple[int, Address, Address]] = field(default_factory=list)
    keepalives: list[tuple[int, float, Address, Address]] = field(default_factory=list)
    undecodable: list[tuple[int, str]] = field(default_factory=list)
    fragments: list[tuple[int, str, str, int]] = field(default_factory=list)   #: (frame, src, dst, IP protocol)
    reassembled: int = 0            #: datagrams put back together from their fragments
    other: int = 0
    labels: dict[int, str] = field(default_factory=dict)   #: frame number -> what it is (MM1, ESP, keepalive…)
    packets: int = 0
    ipv6: int = 0
    duration: float = 0.0
    seen: dict = field(default_factory=dict)     #: (initiator cookie, bytes) -> label, for retransmissions
    v1_fragments: V1Fragments = field(default_factory=V1Fragments)   #: IKEv1 fragments waiting for the rest


def observe(capture: Capture, interface: str | None = None) -> Observations:
    """Read every packet once (of one capture point, if `interface` is given)."""
    obs, frags = Observations(), Reassembler()
    for cp in capture.packets:
        if interface is not None and cp.interface != interface:
            continue
        n = cp.frame
        obs.packets += 1
        obs.duration = cp.time
        try:
            ip = ip_parts(cp.packet)
            obs.ipv6 += ip.version == 6
            if ip.fragment is not None:
                obs.fragments.append((n, ip.src, ip.dst, ip.proto))
                obs.labels[n] = "IP fragment"
                ip = frags.add(ip)
                if ip is None:
                    continue
                obs.reassembled += 1
            _one(obs, n, cp.time, ip)
        except DecodeError as exc:
            obs.undecodable.append((n, str(exc)))
    return obs


def ipv4_parts(packet: bytes) -> tuple[int, str, str, bytes]:
    """(protocol, source, destination, payload) of an IPv4 or IPv6 packet that is not a fragment."""
    ip = ip_parts(packet)
    if ip.fragment is not None:
        raise DecodeError("IP", 6, "an IP fragment: reassembly is not done here")
    return ip.proto, ip.src, ip.dst, ip.payload


def _one(obs: Observations, n: int, t: float, ip: IpPacket) -> None:
    body = ip.payload
    if ip.proto == IPProto.ESP:
        _esp(obs, n, t, body, Address(ip.src), Address(ip.dst), False)
        return
    if ip.proto == IPProto.AH:
        obs.ah.append((n, Address(ip.src), Address(ip.dst)))
        obs.labels[n] = "AH"
        return
    if ip.proto != IPProto.UDP:
        obs.other += 1
        return
    if len(body) < 8:
        raise DecodeError("UDP", 0, "truncated UDP header")
    sport, dport, length = _UDP_HEADER(body)
    if length > len(body) or (length < 8 and not (ip.version == 6 and length == 0)):
        raise DecodeError("UDP", 4, f"UDP length {length} does not fit {len(body)} bytes (a snap length cut it?)")
    payload = body[8:length or len(body)]
    src, dst = Address(ip.src, sport), Address(ip.dst, dport)
    if Port.NAT_T in (sport, dport):
        if payload == b"\xff":
            obs.keepalives.append((n, t, src, dst))
            obs.labels[n] = "keepalive"
        elif len(payload) < 4:
            raise DecodeError("UDP-encap", 0, f"{len(payload)} bytes on 4500: neither a keepalive, IKE nor ESP")
        elif payload[:4] == b"\x00\x00\x00\x00":
            _ike(obs, n, t, payload[4:], src, dst, True)
        else:
            _esp(obs, n, t, payload, src, dst, True)
    elif Port.IKE in (sport, dport):
        _ike(obs, n, t, payload, src, dst, False)
    else:
        obs.other += 1


def _esp(obs, n, t, data: bytes, src: Address, dst: Address, encapsulated: bool) -> None:
    if len(data) < 8:
        raise DecodeError("ESP", 0, f"{len(data)} bytes: shorter than SPI and sequence number")
    spi = int.from_bytes(data[:4], "big")
    key = (spi, src, dst)
    flow = obs.esp.get(key)
    if flow is None:
        flow = obs.esp[key] = EspFlow(spi, src, dst, encapsulated)
    flow.times.append(t)
    flow.indexes.append(n)
    obs.labels[n] = "ESP-in-UDP" if encapsulated else "ESP"


def _ike(obs: Observations, n, t, message: bytes, src: Address, dst: Address, on_4500: bool) -> None:
    if len(message) < 28:
        raise DecodeError("ISAKMP header", 0, f"truncated header: need 28 bytes, {len(message)} left")
    version = message[17] >> 4
    length = int.from_bytes(message[24:28], "big")
    if version not in (1, 2):
        raise DecodeError("ISAKMP header", 17, f"version 0x{message[17]:02x}: neither IKEv1 nor IKEv2")
    if length < 28 or length > len(message):
        raise DecodeError("ISAKMP header", 24, f"length field {length} but {len(message)} bytes")
    message = message[:length]
    if version == 2:
        from .ikev2 import observe_v2
        observe_v2(obs, n, t, message, src, dst, on_4500)
        return
    if is_fragment(message):
        _ike_fragment(obs, n, t, message, src, dst, on_4500)
        return
    icookie, rcookie = message[0:8], message[8:16]
    first, exchange, flags = message[16], message[18], message[19]
    msgid = int.from_bytes(message[20:24], "big")
    ex = obs.exchanges.get(icookie)
    if ex is None:
        ex = obs.exchanges[icookie] = Exchange(icookie)
    if rcookie != bytes(8):
        ex.rcookie = rcookie
    encrypted = bool(flags & 1)
    chain, broken = ([], None) if encrypted else walk(first, message[28:])
    types = tuple(p.type for p in chain)
    if ex.initiator is None:
        opening = rcookie == bytes(8)
        ex.mid = not opening
        # an opening message, or a message from the middle: its sender is taken as the initiator unless
        # it is plainly a responder's (it carries the answer SA of MM2/AM2 with a responder cookie)
        ex.initiator, ex.responder = (src, dst)
        if not opening and exchange in (2, 4) and 1 in types and 4 not in types:
            ex.initiator, ex.responder = (dst, src)
    from_initiator = _from_initiator(ex, src, dst)
    key = (icookie, message)
    earlier = obs.seen.get(key)
    msg = IkeMessage(n, t, src, dst, on_4500, exchange, msgid, encrypted, from_initiator, "", types,
                     earlier is not None)
    msg.label = earlier if earlier is not None else _label(ex, msg, rcookie, types)
    obs.seen.setdefault(key, msg.label)
    obs.labels[n] = msg.label
    if not encrypted and not msg.retransmission:
        _learn(ex, msg, chain, icookie, rcookie)
    if broken and not msg.retransmission:
        obs.undecodable.append((n, f"ISAKMP {msg.label}: {broken}"))
    ex.messages.append(msg)
    ex.by_label.setdefault(msg.label, []).append(msg)


def _ike_fragment(obs: Observations, n, t, message: bytes, src: Address, dst: Address, on_4500: bool) -> None:
    """An IKEv1 fragment: wait for the rest, then observe the whole message at this frame."""
    obs.labels[n] = "IKE fragment"
    done = obs.v1_fragments.add(n, message, src)
    if done is None:
        return
    whole, frames = done
    if len(whole) < 28 or whole[17] >> 4 != 1 or whole[16] == 132:
        raise DecodeError("IKEv1 fragments", 0, f"frames {', '.join(map(str, frames))} join into no IKEv1 message")
    _ike(obs, n, t, whole, src, dst, on_4500)
    ex = obs.exchanges[whole[0:8]]
    m = ex.messages[-1]
    m.fragment_frames = frames
    for k, frame in enumerate(frames, 1):
        obs.labels[frame] = f"{m.label} (IKE fragment {k}/{len(frames)})"


def _from_initiator(ex: Exchange, src: Address, dst: Address) -> bool:
    if src == ex.initiator or dst == ex.responder and src != ex.responder:
        return True
    if src == ex.responder or dst == ex.initiator:
        return False
    if src.ip != dst.ip:
        return src.ip == ex.initiator.ip or dst.ip == ex.responder.ip and src.ip != ex.responder.ip
    return src.port == ex.initiator.port


def _label(ex: Exchange, m: IkeMessage, rcookie: bytes, types: tuple[int, ...]) -> str:
    i = m.from_initiator
    if m.exchange == 2:                                        # Main Mode, RFC 2409 §5
        if m.encrypted:
            return "MM5" if i else "MM6"
        if i:
            return "MM1" if rcookie == bytes(8) or (1 in types and 4 not in types) else "MM3"
        if 1 in types:
            return "MM2"
        if 4 in types or 10 in types:
            return "MM4"
        return "MM notify" if 11 in types else "MM4"
    if m.exchange == 4:                                        # Aggressive Mode, RFC 2409 §5.4
        if i:
            return "AM1" if rcookie == bytes(8) or 1 in types else "AM3"
        return "AM2"
    if m.exchange == 32:                                       # Quick Mode, RFC 2409 §5.5, per Message ID
        state = ex.quick.setdefault(m.message_id, {"starter": m.from_initiator, "seen": 0})
        if m.from_initiator != state["starter"]:
            state["seen"] = max(state["seen"], 2)
            return "QM2"
        label = "QM3" if state["seen"] >= 2 else "QM1"
        state["seen"] = max(state["seen"], 3 if label == "QM3" else 1)
        return label
    return _EXCHANGE_NAMES.get(m.exchange, f"exchange {m.exchange}")


def _learn(ex: Exchange, m: IkeMessage, chain, icookie: bytes, rcookie: bytes) -> None:
    vid_bytes = [p.body for p in chain if p.type == 13]
    vids = tuple(dialects.vid_name(v) for v in vid_bytes)
    m.notifications = tuple(notify_name(nt[0]) for p in chain if p.type == 11 and (nt := notify_v1(p.body)))
    if m.from_initiator:          # every Vendor ID a side sent (Cisco Unity and XAuth often come in MM3/MM4)
        ex.vids_initiator = tuple(dict.fromkeys(ex.vids_initiator + vids))
    else:
        ex.vids_responder = tuple(dict.fromkeys(ex.vids_responder + vids))
    sa_body = next((p.body for p in chain if p.type == 1), None)
    sa = sa_summary(sa_body) if sa_body is not None else None
    if m.label in ("MM1", "AM1"):
        ex.natt_initiator = dialects.best_natt(vid_bytes)
        if sa is not None:
            ex.offered = sa[0]
            if len(set(sa[1])) == 1 and ex.auth is None:
                ex.auth = sa[1][0]
    elif m.label in ("MM2", "AM2"):
        ex.natt = dialects.best_natt(vid_bytes)
        if sa is not None and sa[2] is not None:
            ex.hash, ex.auth, ex.chosen = sa[2]["hash"], sa[2]["auth"], sa[3]
    hashes = [p.body for p in chain if p.type in dialects.NATD_TYPES]
    ex.natd_types.update(p.type for p in chain if p.type in dialects.NATD_TYPES)
    if m.label in ("MM3", "MM4", "AM2", "AM3") and len(hashes) >= 2:
        ex.natd.append(_check_natd(ex, m, hashes, icookie, rcookie))


def natd_hash(name: str, cki: bytes, ckr: bytes, where: Address) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port), RFC 3947 §3.2, for IPv4 and IPv6 addresses."""
    return hashlib.new(name, cki + ckr + where.packed_ip + where.port.to_bytes(2, "big")).digest()


def _check_natd(ex: Exchange, m: IkeMessage, hashes: list[bytes], cki: bytes, ckr: bytes) -> NatdCheck:
    name = ex.hash if ex.hash and len(hashes[0]) == hashlib.new(ex.hash).digest_size else \
        HASH_BY_LENGTH.get(len(hashes[0]), "sha1")
    sources = set(hashes[1:])
    other_port = next((p for p in (Port.IKE, Port.NAT_T) if p != m.src.port
                       and natd_hash(name, cki, ckr, Address(m.src.ip, p)) in sources), None)
    return NatdCheck(m.label, m.dst, m.src, natd_hash(name, cki, ckr, m.dst) == hashes[0],
                     natd_hash(name, cki, ckr, m.src) in sources, other_port, m.from_initiator)
