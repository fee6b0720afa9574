"""The IP layer of a capture, v4 and v6: addresses, the transport payload, fragments put back together.

Lenient as a capture needs: header checksums are not judged (a capture on the sending host shows
them before the network card fills them in), IPv4 options and IPv6 extension headers (hop-by-hop,
routing, destination options, fragment) are stepped over. Fragments (IPv4 MF/offset, the IPv6
Fragment header, RFC 8200 §4.5) are reassembled once every piece is there; the whole datagram is
then attributed to the frame of its last piece, as Wireshark does. Reassembly holds at most
`MAX_PENDING` bytes, so a flood of lone fragments cannot exhaust memory.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass

from ..errors import DecodeError

MAX_PENDING = 4 * 1024 * 1024
_V6_EXTENSIONS = (0, 43, 60)   #: hop-by-hop, routing, destination options (fragment 44 is handled apart)


@dataclass(frozen=True, order=True)
class Address:
    """An IPv4 or IPv6 address and (for UDP) a port; port 0 for ESP and AH."""
    ip: str
    port: int = 0

    def __str__(self) -> str:
        if not self.port:
            return self.ip
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    @property
    def packed_ip(self) -> bytes:
        return _packed(self.ip)


@dataclass(frozen=True)
class IpPacket:
    version: int
    proto: int                     #: the transport protocol (after IPv6 extension headers)
    src: str
    dst: str
    payload: bytes
    fragment: tuple | None = None  #: (identification, offset in bytes, more fragments) for a fragment


@functools.lru_cache(maxsize=65536)
def _text(packed: bytes) -> str:
    """An address as text (RFC 5952 for IPv6); cached: a capture repeats a few addresses many times."""
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


@functools.lru_cache(maxsize=65536)
def _packed(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def ip_parts(packet: bytes) -> IpPacket:
    """The IP header of a v4 or v6 packet, leniently; DecodeError when its lengths do not fit."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return _v4(packet)
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return _v6(packet)
    raise DecodeError("IP", 0, "not an IPv4 or IPv6 header")


def _v4(packet: bytes) -> IpPacket:
    ihl = (packet[0] & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    if ihl < 20 or total < ihl or total > len(packet):
        raise DecodeError("IPv4", 2, f"header length {ihl} / total length {total} do not fit {len(packet)} "
                                     "captured bytes (a snap length cut the packet?)")
    src, dst = _text(packet[12:16]), _text(packet[16:20])
    flags = int.from_bytes(packet[6:8], "big")
    fragment = None
    if flags & 0x3FFF:
        fragment = (int.from_bytes(packet[4:6], "big"), (flags & 0x1FFF) * 8, bool(flags & 0x2000))
    return IpPacket(4, packet[9], src, dst, packet[ihl:total], fragment)


def _v6(packet: bytes) -> IpPacket:
    end = 40 + int.from_bytes(packet[4:6], "big")
    if end > len(packet):
        raise DecodeError("IPv6", 4, f"payload length {end - 40} does not fit {len(packet) - 40} captured bytes")
    src, dst = _text(packet[8:24]), _text(packet[24:40])
    nxt, at, fragment = packet[6], 40, None
    for _ in range(16):                        # a loop of extension headers is damage, not a hang
        if nxt in _V6_EXTENSIONS:
            if at + 8 > end:
                raise DecodeError("IPv6", at, "extension header runs past the packet")
            nxt, at = packet[at], at + 8 + packet[at + 1] * 8
        elif nxt == 44:
            if at + 8 > end:
                raise DecodeError("IPv6", at, "fragment header runs past the packet")
            word = int.from_bytes(packet[at + 2:at + 4], "big")
            fragment = (int.from_bytes(packet[at + 4:at + 8], "big"), word & 0xFFF8, bool(word & 1))
            nxt, at = packet[at], at + 8
            if fragment == (fragment[0], 0, False):    # an atomic fragment: a whole packet
                fragment = None
        else:
            break
    if at > end:
        raise DecodeError("IPv6", at, "extension headers run past the packet")
    return IpPacket(6, nxt, src, dst, packet[at:end], fragment)


class Reassembler:
    """Collects fragments by (src, dst, protocol, identification); hands back the whole datagram."""

    def __init__(self) -> None:
        self.pending: dict[tuple, dict[int, tuple[bytes, bool]]] = {}
        self.held = 0

    def add(self, ip: IpPacket) -> IpPacket | None:
        ident, offset, more = ip.fragment
        key = (ip.version, ip.src, ip.dst, ip.proto, ident)
        pieces = self.pending.setdefault(key, {})
        if offset not in pieces:
            pieces[offset] = (ip.payload, more)
            self.held += len(ip.payload)
        while self.held > MAX_PENDING and self.pending:
            oldest = next(iter(self.pending))
            self.held -= sum(len(p) for p, _ in self.pending.pop(oldest).values())
        if key not in self.pending:
            return None
        whole, at = [], 0
        for start in sorted(pieces):
            if start != at:
                return None
            data, more_after = pieces[start]
            whole.append(data)
            at += len(data)
            if not more_after:
                self.held -= sum(len(p) for p, _ in pieces.values())
                del self.pending[key]
                return IpPacket(ip.version, ip.proto, ip.src, ip.dst, b"".join(whole))
        return None
