"""Rewriting header fields of a real IPv4 packet, as a NAT does (RFC 3022 §4.1, RFC 1624).

`parse_packet` pulls out the fields a NAT looks at (addresses, UDP/TCP ports, the ESP/AH SPI);
`Rewriter` changes addresses and ports in place, keeps the IPv4 header checksum and the UDP/TCP
checksum right with the RFC 1624 eqn. 3 incremental update (the pseudo-header carries both
addresses, RFC 768/793), and records every field it changed so a lesson can point at the bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from socket import inet_aton, inet_ntoa

from ..errors import DecodeError
from ..wire.ip import (IPV4_HEADER_LEN, OFF_DPORT, OFF_IP_CHECKSUM, OFF_IP_DST, OFF_IP_SRC,
                       OFF_SPORT, OFF_TCP_CHECKSUM, OFF_UDP_CHECKSUM, decode_ipv4_header,
                       decode_udp, incremental_update)
from ..wire.numbers import IPProto, label
from .records import record
from .records import fast_init_all


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


_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_WORDS = struct.Struct("!10H")
_UDP = struct.Struct("!HHH")


def parse_packet(packet: bytes) -> PacketFields:
    """The fields a NAT looks at; raises DecodeError for anything malformed.

    Every packet a NAT sees goes through here, so a well-formed UDP packet is read with a few
    struct calls after the same checks the wire decoder makes (version, header length, total
    length, header checksum, no fragment, UDP length); anything else goes through the wire
    decoders, which say exactly what is wrong."""
    n = len(packet)
    if n >= IPV4_HEADER_LEN + 8 and packet[0] == 0x45 and packet[9] == IPProto.UDP:
        _, _, total, _, flags_frag, _, proto, _, src, dst = _IPV4.unpack_from(packet)
        words = sum(_WORDS.unpack_from(packet))
        words = (words & 0xFFFF) + (words >> 16)
        words = (words & 0xFFFF) + (words >> 16)
        if total == n and not flags_frag & 0x3FFF and words == 0xFFFF:
            sport, dport, length = _UDP.unpack_from(packet, IPV4_HEADER_LEN)
            if length == n - IPV4_HEADER_LEN:
                return record(PacketFields, proto, inet_ntoa(src), inet_ntoa(dst), sport, dport, None)
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


class Rewriter:
    """Edits a packet in place and keeps both checksums right (RFC 1624 eqn. 3)."""

    def __init__(self, packet: bytes, proto: int):
        self.buf = bytearray(packet)
        self.proto = proto
        self.changes: list[FieldChange] = []
        self.ip_words: list[tuple[bytes, bytes]] = []   # covered by the IPv4 header checksum
        self.l4_words: list[tuple[bytes, bytes]] = []   # covered by the UDP/TCP checksum

    def _put(self, name: str, off: int, new: bytes, shown_old: str, shown_new: str) -> bytes | None:
        old = bytes(self.buf[off:off + len(new)])
        if old == new:
            return None
        self.buf[off:off + len(new)] = new
        self.changes.append(record(FieldChange, name, off, shown_old, shown_new, len(new)))
        return old

    def address(self, which: str, ip: str) -> None:
        off = OFF_IP_SRC if which == "source" else OFF_IP_DST
        new = inet_aton(ip)   # `ip` comes from the NAT's validated config or table
        shown = inet_ntoa(bytes(self.buf[off:off + 4]))
        old = self._put(f"IPv4 {which} address", off, new, shown, ip)
        if old is not None:
            self.ip_words.append((old, new))
            self.l4_words.append((old, new))  # the pseudo-header carries both addresses

    def port(self, which: str, port: int) -> None:
        off = IPV4_HEADER_LEN + (OFF_SPORT if which == "source" else OFF_DPORT)
        name = "UDP" if self.proto == IPProto.UDP else "TCP"
        new = port.to_bytes(2, "big")
        shown = str(int.from_bytes(self.buf[off:off + 2], "big"))
        old = self._put(f"{name} {which} port", off, new, shown, str(port))
        if old is not None:
            self.l4_words.append((old, new))

    def _fix(self, name: str, off: int, words: list[tuple[bytes, bytes]], udp: bool) -> None:
        old_sum = int.from_bytes(self.buf[off:off + 2], "big")
        if not words or (udp and old_sum == 0):
            return  # RFC 768: a UDP checksum of 0 means "none" and stays 0
        if len(words) == 1:
            new_sum = incremental_update(old_sum, words[0][0], words[0][1])
        else:
            new_sum = incremental_update(old_sum, b"".join([o for o, _ in words]), b"".join([n for _, n in words]))
        if udp and new_sum == 0:
            new_sum = 0xFFFF
        self._put(name, off, new_sum.to_bytes(2, "big"), f"0x{old_sum:04x}", f"0x{new_sum:04x}")

    def finish(self) -> tuple[bytes, tuple[FieldChange, ...]]:
        self._fix("IPv4 header checksum", OFF_IP_CHECKSUM, self.ip_words, False)
        if self.proto == IPProto.UDP:
            self._fix("UDP checksum", IPV4_HEADER_LEN + OFF_UDP_CHECKSUM, self.l4_words, True)
        elif self.proto == IPProto.TCP:
            self._fix("TCP checksum", IPV4_HEADER_LEN + OFF_TCP_CHECKSUM, self.l4_words, False)
        return bytes(self.buf), tuple(self.changes)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
