"""Rewriting header fields of a real IPv4 packet, as a NAT does (RFC 3022 §4.1, RFC 1624).

`parse_packet` pulls out the fields a NAT looks at (addresses, UDP/TCP ports, the ESP/AH SPI);
`rewrite` changes an address and a port, keeps the IPv4 header checksum and the UDP/TCP
checksum right with the RFC 1624 eqn. 3 incremental update (the pseudo-header carries both
addresses, RFC 768/793), and records every field it changed so a lesson can point at the bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from socket import inet_aton, inet_ntoa

from ..errors import DecodeError
from ..wire.ip import (IPV4_HEADER_LEN, IPV4_UDP, OFF_DPORT, OFF_IP_CHECKSUM, OFF_IP_DST, OFF_IP_SRC,
                       OFF_SPORT, OFF_TCP_CHECKSUM, OFF_UDP_CHECKSUM, decode_ipv4_header,
                       decode_udp, incremental_by, plain_udp)
from ..wire.numbers import IPProto, label
from .records import builder, fast_init_all


@dataclass(frozen=True)
class FieldChange:
    """One rewritten header field; offset is absolute in the IPv4 packet, size in bytes."""
    name: str
    offset: int
    old: str
    new: str
    size: int = 2


@dataclass(frozen=True)
class PacketFields:
    proto: int
    src: str
    dst: str
    sport: int = 0
    dport: int = 0
    spi: int | None = None

    def describe(self) -> str:
        name = label(IPProto, self.proto)
        if self.proto in (IPProto.UDP, IPProto.TCP):
            return f"{name} {self.src}:{self.sport} -> {self.dst}:{self.dport}"
        spi = f" (SPI 0x{self.spi:08x})" if self.spi is not None else ""
        return f"{name} {self.src} -> {self.dst}{spi}"


def parse_packet(packet: bytes) -> PacketFields:
    """The fields a NAT looks at; raises DecodeError for anything malformed.

    Every packet a NAT sees goes through here, so a well-formed UDP packet (`plain_udp`) is read
    with one struct call; anything else goes through the wire decoders, which say exactly what is
    wrong."""
    if plain_udp(packet):
        _, _, _, _, _, _, proto, _, src, dst, sport, dport, _, _ = IPV4_UDP.unpack_from(packet)
        return _fields(proto, inet_ntoa(src), inet_ntoa(dst), sport, dport, None)
    return _parse_checked(packet)


def _parse_checked(packet: bytes) -> PacketFields:
    ip, body = decode_ipv4_header(packet)
    base = IPV4_HEADER_LEN
    if ip.proto == IPProto.UDP:
        udp, _ = decode_udp(body, base)
        return PacketFields(ip.proto, ip.src, ip.dst, udp.sport, udp.dport)
    need = {IPProto.TCP: 20, IPProto.ESP: 8, IPProto.AH: 12}.get(ip.proto, 0)
    if len(body) < need:
        raise DecodeError(label(IPProto, ip.proto), base,
                          f"truncated header: need {need} bytes, {len(body)} left")
    if ip.proto == IPProto.TCP:
        return PacketFields(ip.proto, ip.src, ip.dst, int.from_bytes(body[0:2], "big"),
                       int.from_bytes(body[2:4], "big"))
    if ip.proto == IPProto.ESP:
        return PacketFields(ip.proto, ip.src, ip.dst, spi=int.from_bytes(body[0:4], "big"))
    if ip.proto == IPProto.AH:
        return PacketFields(ip.proto, ip.src, ip.dst, spi=int.from_bytes(body[4:8], "big"))
    return PacketFields(ip.proto, ip.src, ip.dst)


_ADDRESS = {"source": (OFF_IP_SRC, "IPv4 source address"), "destination": (OFF_IP_DST, "IPv4 destination address")}
_PORT = {"source": IPV4_HEADER_LEN + OFF_SPORT, "destination": IPV4_HEADER_LEN + OFF_DPORT}
#: the transport checksum covering the pseudo-header: (its name, its offset, 0 means "none" (RFC 768))
_L4_CHECKSUM = {IPProto.UDP: ("UDP checksum", IPV4_HEADER_LEN + OFF_UDP_CHECKSUM, True),
                IPProto.TCP: ("TCP checksum", IPV4_HEADER_LEN + OFF_TCP_CHECKSUM, False)}
NO_L4 = -1   #: `proto` for a later fragment: no transport header, only the IPv4 header checksum


def rewrite(packet: bytes, proto: int, which: str, ip: str | None,
            port: int | None = None) -> tuple[bytes, tuple[FieldChange, ...]]:
    """The packet with its `which` ("source" or "destination") address set to `ip` (None: kept) and,
    for UDP/TCP, that port set to `port` (None: kept); both checksums follow by RFC 1624 eqn. 3.

    Returns the new bytes and every field that changed, in order: address, port, IPv4 header
    checksum, transport checksum."""
    return Rewrite(packet, proto, which, ip, port).apply(packet)


class Rewrite:
    """One rewrite worked out from a packet: which bytes change to what, the FieldChanges that say
    so, and what the change adds to each checksum (RFC 1624 eqn. 3, mod 0xFFFF).

    Every packet of a flow through a NAT mapping has the same old address and port, so a NAT keeps
    one per mapping and direction (`fits` says when it still applies): per packet only the two
    checksums are worked out, the rest is spliced in as the flow's first packet had it."""
    __slots__ = ("proto", "ip", "port", "splices", "fields", "fixes")

    def __init__(self, packet: bytes, proto: int, which: str, ip: str | None, port: int | None = None):
        self.proto, self.ip, self.port = proto, ip, port
        splices: list[tuple[int, int, bytes, bytes]] = []   # (offset, end, old bytes, new bytes)
        fields: list[FieldChange] = []
        if ip is not None:
            off, name = _ADDRESS[which]
            old, new = packet[off:off + 4], inet_aton(ip)   # `ip` comes from the NAT's validated config or table
            if old != new:
                splices.append((off, off + 4, old, new))
                fields.append(_change(name, off, inet_ntoa(old), ip, 4))
        if port is not None:
            off = _PORT[which]
            old, new = packet[off:off + 2], port.to_bytes(2, "big")
            if old != new:
                splices.append((off, off + 2, old, new))
                name = "UDP" if proto == IPProto.UDP else "TCP"
                fields.append(_change(f"{name} {which} port", off, str(int.from_bytes(old, "big")), str(port), 2))
        self.splices, self.fields = tuple(splices), tuple(fields)
        # the checksums that cover what changed: the IPv4 header's covers the address, the transport's
        # pseudo-header both the address and the port
        fixes = []
        if splices and splices[0][0] in (OFF_IP_SRC, OFF_IP_DST):
            fixes.append(("IPv4 header checksum", OFF_IP_CHECKSUM, False, splices[0][2], splices[0][3]))
        l4 = _L4_CHECKSUM.get(proto) if splices else None
        if l4 is not None:
            fixes.append((*l4, b"".join([old for _, _, old, _ in splices]), b"".join([new for *_, new in splices])))
        # (name, offset, is UDP, old words, new words, what the change adds to the sum mod 0xFFFF)
        self.fixes = tuple([(*fix, (int.from_bytes(fix[4], "big") - int.from_bytes(fix[3], "big")) % 0xFFFF)
                            for fix in fixes])

    def fits(self, packet: bytes, proto: int, ip: str | None, port: int | None) -> bool:
        """Whether this is the rewrite `rewrite(packet, proto, which, ip, port)` would work out."""
        if proto != self.proto or ip != self.ip or port != self.port:
            return False
        for off, end, old, _ in self.splices:
            if packet[off:end] != old:
                return False
        return True

    def apply(self, packet: bytes) -> tuple[bytes, tuple[FieldChange, ...]]:
        """The rewritten packet and every field that changed (for a `packet` this rewrite `fits`)."""
        if not self.splices:
            return packet, ()
        buf = bytearray(packet)
        for off, end, _, new in self.splices:
            buf[off:end] = new
        changes = self.fields
        for name, off, udp, old, new, delta in self.fixes:
            old_sum = buf[off] << 8 | buf[off + 1]
            if udp and old_sum == 0:
                continue  # RFC 768: a UDP checksum of 0 means "none" and stays 0
            new_sum = incremental_by(old_sum, delta, old, new)    # the words' difference worked out once
            if udp and new_sum == 0:
                new_sum = 0xFFFF
            if new_sum != old_sum:
                buf[off], buf[off + 1] = new_sum >> 8, new_sum & 0xFF   # big-endian, byte by byte
                changes += (_change(name, off, f"0x{old_sum:04x}", f"0x{new_sum:04x}", 2),)
        return bytes(buf), changes


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
_change = builder(FieldChange)      # every field in order, one call: a few per translated packet
_fields = builder(PacketFields)
