"""IPv4, UDP and TCP headers with their checksums: the bytes a NAT rewrites (RFC 791, 768, 793).

`encode_datagram`/`decode_datagram` convert between `Datagram` and real IPv4 bytes. Checksum
helpers include the RFC 1624 incremental update used by NATs and by the RFC 3948 §3.1.2 fix-up.
Field offsets are named constants so a NAT can say exactly which bytes it changed.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import DecodeError
from ..addressing import Datagram, Endpoint
from .codec import Reader
from .numbers import IPProto

IPV4_HEADER_LEN = 20
UDP_HEADER_LEN = 8

# Byte offsets inside an IPv4 header without options.
OFF_IP_TOTAL_LEN = 2
OFF_IP_IDENT = 4
OFF_IP_TTL = 8
OFF_IP_PROTO = 9
OFF_IP_CHECKSUM = 10
OFF_IP_SRC = 12
OFF_IP_DST = 16
# Offsets inside a UDP or TCP header (relative to the transport header).
OFF_SPORT = 0
OFF_DPORT = 2
OFF_UDP_LEN = 4
OFF_UDP_CHECKSUM = 6
OFF_TCP_CHECKSUM = 16


def ones_complement_sum(data: bytes, start: int = 0) -> int:
    """The 16-bit one's-complement sum of data (odd length padded with a zero byte)."""
    if len(data) % 2:
        data = data + b"\x00"
    total = start + sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data: bytes) -> int:
    """RFC 1071 checksum."""
    return ~ones_complement_sum(data) & 0xFFFF


def incremental_update(checksum: int, old: bytes, new: bytes) -> int:
    """RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over every 16-bit word of old → new."""
    if len(old) != len(new) or len(old) % 2:
        raise ValueError("old and new must have the same even length")
    total = ~checksum & 0xFFFF
    for i in range(0, len(old), 2):
        m = int.from_bytes(old[i:i + 2], "big")
        m2 = int.from_bytes(new[i:i + 2], "big")
        total += (~m & 0xFFFF) + m2
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    return (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
            + bytes([0, proto]) + length.to_bytes(2, "big"))


def transport_checksum(src: str, dst: str, proto: int, segment: bytes) -> int:
    """UDP/TCP checksum of `segment` (its checksum field must be zero) over the pseudo-header."""
    value = internet_checksum(pseudo_header(src, dst, proto, len(segment)) + segment)
    if proto == IPProto.UDP and value == 0:
        value = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    return value


def encode_udp(src: Endpoint, dst: Endpoint, payload: bytes, checksum: bool = True) -> bytes:
    """A UDP header + payload, with the checksum over the pseudo-header (or 0)."""
    length = UDP_HEADER_LEN + len(payload)
    if length > 0xFFFF:
        raise ValueError("UDP datagram too long")
    head = src.port.to_bytes(2, "big") + dst.port.to_bytes(2, "big") + length.to_bytes(2, "big")
    seg = head + b"\x00\x00" + payload
    if not checksum:
        return seg
    value = transport_checksum(src.ip, dst.ip, IPProto.UDP, seg)
    return head + value.to_bytes(2, "big") + payload


@dataclass(frozen=True)
class UdpHeader:
    sport: int
    dport: int
    length: int
    checksum: int


def decode_udp(data: bytes, base: int = 0) -> tuple[UdpHeader, bytes]:
    """Split a UDP segment; the length field must match exactly."""
    r = Reader(data, "UDP", base)
    hdr = UdpHeader(r.u16("source port"), r.u16("destination port"), r.u16("length"), r.u16("checksum"))
    if hdr.length != len(data):
        raise DecodeError("UDP", base + OFF_UDP_LEN, f"length field {hdr.length} but {len(data)} bytes")
    return hdr, r.rest()


def udp_checksum_ok(src: str, dst: str, segment: bytes) -> bool:
    """True when the UDP checksum is 0 (not used) or verifies over this pseudo-header."""
    if len(segment) < UDP_HEADER_LEN:
        return False
    if segment[6:8] == b"\x00\x00":
        return True
    return ones_complement_sum(pseudo_header(src, dst, IPProto.UDP, len(segment)) + segment) == 0xFFFF


def encode_ipv4_header(src: str, dst: str, proto: int, payload_len: int, ident: int = 0,
                       ttl: int = 64, tos: int = 0, flags_frag: int = 0x4000) -> bytes:
    """A 20-byte IPv4 header (DF set by default) with a correct header checksum."""
    total = IPV4_HEADER_LEN + payload_len
    if total > 0xFFFF:
        raise ValueError("IPv4 packet too long")
    head = (bytes([0x45, tos]) + total.to_bytes(2, "big") + ident.to_bytes(2, "big")
            + flags_frag.to_bytes(2, "big") + bytes([ttl, proto]) + b"\x00\x00"
            + ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed)
    return head[:10] + internet_checksum(head).to_bytes(2, "big") + head[12:]


def encode_datagram(d: Datagram) -> bytes:
    """The real IPv4 packet for a Datagram (UDP header built here for proto 17)."""
    body = d.payload
    if d.proto == IPProto.UDP:
        body = encode_udp(d.src, d.dst, d.payload, checksum=not d.zero_udp_checksum)
    return encode_ipv4_header(d.src.ip, d.dst.ip, d.proto, len(body), d.ident, d.ttl) + body


@dataclass(frozen=True)
class IPv4Header:
    version_ihl: int
    tos: int
    total_length: int
    ident: int
    flags_frag: int
    ttl: int
    proto: int
    checksum: int
    src: str
    dst: str


def decode_ipv4_header(packet: bytes) -> tuple[IPv4Header, bytes]:
    """Parse and validate an option-less IPv4 header; return it and the payload."""
    r = Reader(packet, "IPv4")
    vihl = r.u8("version/IHL")
    if vihl >> 4 != 4:
        raise DecodeError("IPv4", 0, f"version {vihl >> 4}, expected 4")
    if vihl & 0x0F != 5:
        raise DecodeError("IPv4", 0, f"IHL {vihl & 0x0F} not supported (options)")
    tos = r.u8()
    total = r.u16("total length")
    ident = r.u16()
    ff = r.u16()
    ttl = r.u8()
    proto = r.u8()
    csum = r.u16()
    src = str(ipaddress.IPv4Address(r.bytes(4, "source address")))
    dst = str(ipaddress.IPv4Address(r.bytes(4, "destination address")))
    if total != len(packet):
        raise DecodeError("IPv4", OFF_IP_TOTAL_LEN, f"total length {total} but {len(packet)} bytes")
    if internet_checksum(packet[:IPV4_HEADER_LEN]) != 0:
        raise DecodeError("IPv4", OFF_IP_CHECKSUM, "bad header checksum")
    if ff & 0x3FFF:
        raise DecodeError("IPv4", 6, "fragments are not supported")
    return IPv4Header(vihl, tos, total, ident, ff, ttl, proto, csum, src, dst), r.rest()


def decode_datagram(packet: bytes) -> Datagram:
    """Parse IPv4 bytes into a Datagram; UDP checksums are verified when non-zero."""
    ip, body = decode_ipv4_header(packet)
    if ip.proto == IPProto.UDP:
        udp, payload = decode_udp(body, IPV4_HEADER_LEN)
        if not udp_checksum_ok(ip.src, ip.dst, body):
            raise DecodeError("UDP", IPV4_HEADER_LEN + OFF_UDP_CHECKSUM, "bad checksum")
        return Datagram(Endpoint(ip.src, udp.sport), Endpoint(ip.dst, udp.dport), ip.proto, payload,
                        ip.ident, ip.ttl, zero_udp_checksum=udp.checksum == 0)
    return Datagram(Endpoint(ip.src), Endpoint(ip.dst), ip.proto, body, ip.ident, ip.ttl)
