"""IPv4, UDP and TCP headers with their checksums: the bytes a NAT rewrites (RFC 791, 768, 793).

`encode_datagram`/`decode_datagram` convert between `Datagram` and real IPv4 bytes. Checksum
helpers include the RFC 1624 incremental update used by NATs and by the RFC 3948 §3.1.2 fix-up.
Field offsets are named constants so a NAT can say exactly which bytes it changed.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from functools import lru_cache

from ..errors import DecodeError
from ..addressing import Datagram, Endpoint
from .codec import Reader
from .layout import Layout, Part, hexed, named
from .numbers import IPProto
from ..net.records import fast_init_all


def _dotted(value: bytes, row: dict) -> str:
    return socket.inet_ntoa(value)


def _udp_checksum(value: int, row: dict) -> str:
    return f"0x{value:04x}" + (" (not used)" if value == 0 else "")


#: RFC 791 §3.1 without options; `ah` marks what the AH ICV covers (RFC 4302 §3.3.3.1.1.1)
IPV4_HEADER = Layout(
    "IPv4",
    Part("version_ihl", 1, "version / IHL", lambda v, row: f"{v >> 4} / {v & 15}", ah=True),
    Part("tos", 1, "DSCP / ECN", hexed(2)),
    Part("total_length", 2, "total length", ah=True),
    Part("ident", 2, "identification", hexed(4), ah=True),
    Part("flags_frag", 2, "flags / fragment offset",
         lambda v, row: f"{'DF' if v & 0x4000 else '-'}{', MF' if v & 0x2000 else ''}, offset {v & 0x1FFF}"
                        + (f" (byte {(v & 0x1FFF) * 8})" if v & 0x1FFF else "")),
    Part("ttl", 1, "TTL"),
    Part("proto", 1, "protocol", named(IPProto), ah=True),
    Part("checksum", 2, "header checksum", hexed(4)),
    Part("src", 4, "source address", _dotted, ah=True, raw=True),
    Part("dst", 4, "destination address", _dotted, ah=True, raw=True),
)
#: RFC 768
UDP_HEADER = Layout(
    "UDP",
    Part("sport", 2, "source port"),
    Part("dport", 2, "destination port"),
    Part("length", 2, "length"),
    Part("checksum", 2, "checksum", _udp_checksum),
)

IPV4_HEADER_LEN = IPV4_HEADER.size
UDP_HEADER_LEN = UDP_HEADER.size

# Byte offsets inside an IPv4 header without options.
OFF_IP_TOTAL_LEN = IPV4_HEADER.offset("total_length")
OFF_IP_IDENT = IPV4_HEADER.offset("ident")
OFF_IP_TTL = IPV4_HEADER.offset("ttl")
OFF_IP_PROTO = IPV4_HEADER.offset("proto")
OFF_IP_CHECKSUM = IPV4_HEADER.offset("checksum")
OFF_IP_SRC = IPV4_HEADER.offset("src")
OFF_IP_DST = IPV4_HEADER.offset("dst")
# Offsets inside a UDP or TCP header (relative to the transport header).
OFF_SPORT = UDP_HEADER.offset("sport")
OFF_DPORT = UDP_HEADER.offset("dport")
OFF_UDP_LEN = UDP_HEADER.offset("length")
OFF_UDP_CHECKSUM = UDP_HEADER.offset("checksum")
OFF_TCP_CHECKSUM = 16


@lru_cache(maxsize=4096)
def packed_ipv4(ip: str) -> bytes:
    """A dotted IPv4 address as 4 bytes, strictly (ipaddress refuses what inet_aton would take)."""
    return ipaddress.IPv4Address(ip).packed


def ones_complement_sum(data: bytes, start: int = 0) -> int:
    """The 16-bit one's-complement sum of data (odd length padded with a zero byte)."""
    if len(data) % 2:
        data = data + b"\x00"
    # 65536 = 1 (mod 65535), so the whole buffer read as one big number is congruent to the sum
    # of its 16-bit words; end-around carries keep a non-zero sum in 1..0xFFFF, never 0
    total = start + int.from_bytes(data, "big")
    if not total:
        return 0
    return (total - 1) % 0xFFFF + 1


def internet_checksum(data: bytes) -> int:
    """RFC 1071 checksum."""
    return ~ones_complement_sum(data) & 0xFFFF


def incremental_update(checksum: int, old: bytes, new: bytes) -> int:
    """RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over every 16-bit word of old → new."""
    n = len(old)
    if n != len(new) or n & 1:
        raise ValueError("old and new must have the same even length")
    start = ~checksum & 0xFFFF
    # the word-by-word sum is start + k*0xFFFF - sum(m) + sum(m'), congruent (mod 0xFFFF) to the
    # big-number form below (see ones_complement_sum); it is exactly zero only when every term is
    if not start and not any(new) and old == b"\xff" * n:
        return 0xFFFF
    total = (start - int.from_bytes(old, "big") + int.from_bytes(new, "big") - 1) % 0xFFFF + 1
    return ~total & 0xFFFF


def pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    return packed_ipv4(src) + packed_ipv4(dst) + bytes([0, proto]) + length.to_bytes(2, "big")


def transport_checksum(src: str, dst: str, proto: int, segment: bytes) -> int:
    """UDP/TCP checksum of `segment` (its checksum field must be zero) over the pseudo-header."""
    value = ~ones_complement_sum(pseudo_header(src, dst, proto, len(segment)) + segment) & 0xFFFF
    if proto == IPProto.UDP and value == 0:
        value = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    return value


def encode_udp(src: Endpoint, dst: Endpoint, payload: bytes, checksum: bool = True,
               words: int | None = None) -> bytes:
    """A UDP header + payload, with the checksum over the pseudo-header (or 0). `words`: the
    addresses' `pseudo_words`, when the caller keeps them for its flow."""
    length = UDP_HEADER_LEN + len(payload)
    if length > 0xFFFF:
        raise ValueError("UDP datagram too long")
    sport, dport = src.port, dst.port
    if not checksum:
        return _UDP_PACK(sport, dport, length, 0) + payload
    if words is None:
        words = int.from_bytes(packed_ipv4(src.ip) + packed_ipv4(dst.ip), "big") + _PROTO_UDP
    # the pseudo-header and the header with a zero checksum, summed with the payload (RFC 768) from
    # the fields, as encode_datagram does: the header is packed once, with its checksum
    words += 2 * length + sport + dport + (int.from_bytes(payload, "big") << 8 * (length & 1))   # the payload's parity
    value = ~((words - 1) % 0xFFFF + 1) & 0xFFFF   # the protocol makes `words` non-zero
    return _UDP_PACK(sport, dport, length, value or 0xFFFF) + payload   # RFC 768: a computed 0 is sent as all ones


@dataclass(frozen=True)
class UdpHeader:
    sport: int
    dport: int
    length: int
    checksum: int

    def encode(self) -> bytes:
        """The inverse of `decode_udp`: the 8 header bytes as they were (checksum included)."""
        return UDP_HEADER.pack(self.sport, self.dport, self.length, self.checksum)


def decode_udp(data: bytes, base: int = 0) -> tuple[UdpHeader, bytes]:
    """Split a UDP segment; the length field must match exactly."""
    r = Reader(data, "UDP", base)
    hdr = UdpHeader(*UDP_HEADER.read(r))
    if hdr.length != len(data):
        raise DecodeError("UDP", base + OFF_UDP_LEN, f"length field {hdr.length} but {len(data)} bytes")
    return hdr, r.rest()


def udp_checksum_ok(src: str, dst: str, segment: bytes) -> bool:
    """True when the UDP checksum is 0 (not used) or verifies over this pseudo-header."""
    n = len(segment)
    if n < UDP_HEADER_LEN:
        return False
    if segment[6:8] == b"\x00\x00":
        return True
    # the one's-complement sum is 0xFFFF exactly when the data as one number is a non-zero multiple
    # of 0xFFFF (see decode_datagram); the protocol byte makes it non-zero
    return not int.from_bytes(packed_ipv4(src) + packed_ipv4(dst) + _UDP_PSEUDO_PROTO + n.to_bytes(2, "big")
                              + segment, "big") % 0xFFFF


def pseudo_words(src: str, dst: str) -> int:
    """The UDP pseudo-header's addresses and protocol (RFC 768) as a number mod 0xFFFF, for a flow
    whose addresses are the same every packet. `udp_checksum_ok(src, dst, segment)` is then, for a
    segment of n >= 8 bytes with a non-zero checksum, `not ((words + n) * f + int(segment)) % 0xFFFF`
    with f = 256 for odd n, else 1: the pseudo-header's 12 bytes read as a number are congruent to
    the sum of its words (65536 = 1 mod 0xFFFF), and shifting them past n bytes multiplies them by
    256**n, which is 1 or 256 mod 0xFFFF."""
    return (int.from_bytes(packed_ipv4(src) + packed_ipv4(dst), "big") + _PROTO_UDP) % 0xFFFF


def udp_words_ok(words: int, segment: bytes) -> bool:
    """`udp_checksum_ok` for a segment of at least 8 bytes whose addresses' `pseudo_words` the
    caller keeps for its flow: no pseudo-header packed per segment."""
    n = len(segment)
    return segment[6:8] == b"\x00\x00" or not ((words + n) * (256 if n & 1 else 1) + int.from_bytes(segment, "big")) % 0xFFFF


def incremental_by(checksum: int, delta: int, old: bytes, new: bytes) -> int:
    """`incremental_update(checksum, old, new)` when the caller keeps the words' difference,
    delta = (int(new) - int(old)) % 0xFFFF, for a rewrite it repeats (a NAT mapping, an SA's NAT-OA
    fix-up): RFC 1624 eqn. 3 in one step; a checksum of 0xFFFF goes to `incremental_update`, which
    minds the one case whose sum is exactly zero."""
    start = ~checksum & 0xFFFF
    if start:
        return ~((start + delta - 1) % 0xFFFF + 1) & 0xFFFF
    return incremental_update(checksum, old, new)


def encode_ipv4_header(src: str, dst: str, proto: int, payload_len: int, ident: int = 0,
                       ttl: int = 64, tos: int = 0, flags_frag: int = 0x4000) -> bytes:
    """A 20-byte IPv4 header (DF set by default) with a correct header checksum."""
    total = IPV4_HEADER_LEN + payload_len
    if total > 0xFFFF:
        raise ValueError("IPv4 packet too long")
    return _ipv4(tos, total, ident, flags_frag, ttl, proto, packed_ipv4(src), packed_ipv4(dst))


def _ipv4(tos: int, total: int, ident: int, flags_frag: int, ttl: int, proto: int, src: bytes,
          dst: bytes) -> bytes:
    head = IPV4_HEADER.pack(0x45, tos, total, ident, flags_frag, ttl, proto, 0, src, dst)
    return head[:OFF_IP_CHECKSUM] + internet_checksum(head).to_bytes(2, "big") + head[OFF_IP_CHECKSUM + 2:]


def encode_datagram(d: Datagram) -> bytes:
    """The real IPv4 packet for a Datagram (UDP header built here for proto 17): the same bytes as
    `encode_ipv4_header(...) + encode_udp(...)`, packed in one go."""
    payload, proto = d.payload, d.proto
    src, dst = packed_ipv4(d.src.ip), packed_ipv4(d.dst.ip)
    if proto != _PROTO_UDP:
        total = IPV4_HEADER_LEN + len(payload)
        if total > 0xFFFF:
            raise ValueError("IPv4 packet too long")
        return _ipv4(0, total, d.ident, 0x4000, d.ttl, proto, src, dst) + payload
    length = UDP_HEADER_LEN + len(payload)
    if length > 0xFFFF:
        raise ValueError("UDP datagram too long")
    sport, dport = d.src.port, d.dst.port
    total = IPV4_HEADER_LEN + length
    if total > 0xFFFF:
        raise ValueError("IPv4 packet too long")
    ident, ttl = d.ident, d.ttl
    # ones_complement_sum inlined, both sums from the fields: 65536 = 1 (mod 0xFFFF), so bytes read
    # as one number are congruent to the sum of their 16-bit words, and the words of the two
    # addresses count in both the IPv4 header and the UDP pseudo-header
    addresses = int.from_bytes(src + dst, "big")
    checksum = 0
    if not d.zero_udp_checksum:
        # pseudo-header (addresses, protocol 17 = proto, length) + UDP header with a zero checksum + payload,
        # whose odd last byte is padded with a zero (the number times 256); the protocol makes it non-zero
        words = addresses + proto + 2 * length + sport + dport \
            + (int.from_bytes(payload, "big") << 8 * (length & 1))       # length & 1: the payload's parity
        checksum = ~((words - 1) % 0xFFFF + 1) & 0xFFFF or 0xFFFF
    # version/IHL 0x45, DF 0x4000: never zero
    header_sum = ~((0x4500 + total + ident + 0x4000 + (ttl << 8 | proto) + addresses - 1) % 0xFFFF + 1) & 0xFFFF
    return _IPV4_UDP_PACK(0x45, 0, total, ident, 0x4000, ttl, proto, header_sum, src, dst, sport, dport, length,
                          checksum) + payload


#: the pseudo-header's zero and protocol bytes (RFC 768)
_UDP_PSEUDO_PROTO = bytes([0, IPProto.UDP])
_PROTO_UDP = int(IPProto.UDP)   #: 17 as a plain int, for the checksum sums
_UDP_PACK = UDP_HEADER.struct.pack


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

    def encode(self) -> bytes:
        """The inverse of `decode_ipv4_header`: 20 bytes with the header checksum recomputed."""
        return _ipv4(self.tos, self.total_length, self.ident, self.flags_frag, self.ttl, self.proto,
                     packed_ipv4(self.src), packed_ipv4(self.dst))


def decode_ipv4_header(packet: bytes, fragments: bool = False) -> tuple[IPv4Header, bytes]:
    """Parse and validate an option-less IPv4 header; return it and the payload. A fragment is a
    DecodeError unless `fragments` (a host sees only whole datagrams: net/fragments.py reassembles).

    A well-formed header takes one struct read (the checks of `decode_datagram`); anything else is
    read step by step below, for the DecodeError that names what is wrong."""
    n = len(packet)
    if type(packet) is bytes and n >= 20 and packet[0] == 0x45 and not int.from_bytes(packet[:20], "big") % 0xFFFF:
        vihl, tos, total, ident, ff, ttl, proto, csum, src, dst = _IPV4.unpack_from(packet)
        if total == n and (fragments or not ff & 0x3FFF):
            return IPv4Header(vihl, tos, total, ident, ff, ttl, proto, csum, socket.inet_ntoa(src),
                              socket.inet_ntoa(dst)), packet[20:]
    r = Reader(packet, "IPv4")
    vihl = r.u8("version / IHL")
    if vihl >> 4 != 4:
        raise DecodeError("IPv4", 0, f"version {vihl >> 4}, expected 4")
    if vihl & 0x0F != 5:
        raise DecodeError("IPv4", 0, f"IHL {vihl & 0x0F} not supported (options)")
    r.pos = 0
    vihl, tos, total, ident, ff, ttl, proto, csum, src, dst = IPV4_HEADER.read(r)
    src, dst = socket.inet_ntoa(src), socket.inet_ntoa(dst)
    if total != len(packet):
        raise DecodeError("IPv4", OFF_IP_TOTAL_LEN, f"total length {total} but {len(packet)} bytes")
    if internet_checksum(packet[:IPV4_HEADER_LEN]) != 0:
        raise DecodeError("IPv4", OFF_IP_CHECKSUM, "bad header checksum")
    if ff & 0x3FFF and not fragments:
        raise DecodeError("IPv4", 6, "fragments are not supported")
    return IPv4Header(vihl, tos, total, ident, ff, ttl, proto, csum, src, dst), r.rest()


_IPV4 = IPV4_HEADER.struct                        #: an option-less IPv4 header
IPV4_UDP = struct.Struct(IPV4_HEADER.struct.format + UDP_HEADER.struct.format[1:])   #: ... and a UDP header
_IPV4_UDP_PACK = IPV4_UDP.pack
_ENDPOINTS: dict[tuple[bytes, int], Endpoint] = {}   #: Endpoints are immutable: one per address and port
_new, _set = object.__new__, object.__setattr__


def _endpoint(packed: bytes, port: int) -> Endpoint:
    """The Endpoint for 4 address bytes off the wire (always valid dotted IPv4) and a 16-bit port."""
    ep = _ENDPOINTS.get((packed, port))
    if ep is None:
        if len(_ENDPOINTS) >= 1 << 16:
            _ENDPOINTS.clear()
        ep = _ENDPOINTS[(packed, port)] = Endpoint(socket.inet_ntoa(packed), port)
    return ep


#: both Endpoints of a packet by its header bytes 12-24 (UDP: source and destination address, then
#: source and destination port, one run of bytes) or 12-20 (no ports): one lookup per packet
_ENDS: dict[bytes, tuple[Endpoint, Endpoint]] = {}


def _ends(key: bytes) -> tuple[Endpoint, Endpoint]:
    if len(_ENDS) >= 1 << 16:
        _ENDS.clear()
    sport, dport = (int.from_bytes(key[8:10], "big"), int.from_bytes(key[10:12], "big")) if len(key) == 12 else (0, 0)
    ends = _ENDS[key] = (_endpoint(key[:4], sport), _endpoint(key[4:8], dport))
    return ends


def plain_udp(packet: bytes) -> bool:
    """Whether `packet` is an IPv4 UDP packet without options or fragmentation whose header
    checksum, total length and UDP length are right: the checks `decode_datagram` makes, read in
    place (its UDP checksum aside). Such a packet's bytes 12..23 are its addresses and ports (a
    NAT's flow key)."""
    n = len(packet)
    # the header checksum verifies when the header read as one number is a multiple of 0xFFFF
    # (see decode_datagram); 0x45 makes it non-zero
    return n >= 28 and packet[0] == 0x45 and packet[9] == _PROTO_UDP \
        and not int.from_bytes(packet[:20], "big") % 0xFFFF \
        and packet[2] << 8 | packet[3] == n and not (packet[6] & 0x3F or packet[7]) \
        and packet[24] << 8 | packet[25] == n - 20


def decode_datagram(packet: bytes) -> Datagram:
    """Parse IPv4 bytes into a Datagram; UDP checksums are verified when non-zero.

    A well-formed packet takes one struct read; anything the fast path does not accept is parsed
    again step by step, so every malformed packet gets the same DecodeError as always."""
    n = len(packet)
    # a checksum verifies when the one's-complement sum is 0xFFFF (ones_complement_sum), i.e. when the
    # data read as one number is a non-zero multiple of 0xFFFF; a pad byte for odd lengths would
    # multiply it by 256, which is prime to 0xFFFF, so the test needs no padding
    if type(packet) is bytes and n >= 20 and packet[0] == 0x45:
        if plain_udp(packet):
            # the UDP checksum over the pseudo-header: addresses, zero, protocol, UDP length; then the segment
            if (packet[26] or packet[27]) and int.from_bytes(
                    packet[12:20] + b"\x00\x11" + packet[24:26] + packet[20:], "big") % 0xFFFF:
                return _decode_datagram_checked(packet)
            return datagram_of(packet)
        if packet[9] != _PROTO_UDP and not int.from_bytes(packet[:20], "big") % 0xFFFF:
            if packet[2] << 8 | packet[3] != n or packet[6] & 0x3F or packet[7]:   # total length; MF, offset
                return _decode_datagram_checked(packet)
            return datagram_of(packet)
    return _decode_datagram_checked(packet)


def datagram_of(packet: bytes) -> Datagram:
    """The Datagram of IPv4 bytes known to be well-formed and whole (what `decode_datagram` accepts):
    its answer without its checks. The network's own packets are such bytes -- `encode_datagram`'s,
    or those a NAT rewrote keeping every checksum right (nat.Translation.well_formed) -- so a host
    is handed them without checking again what the network built."""
    udp = packet[9] == _PROTO_UDP
    # both Endpoints from the shared table (by addresses and ports, one run of bytes), a Datagram
    # filled in one assignment
    key = packet[12:24] if udp else packet[12:20]
    ends = _ENDS.get(key) or _ends(key)
    d = _new(Datagram)
    _set(d, "__dict__", {"src": ends[0], "dst": ends[1], "proto": packet[9], "payload": packet[28 if udp else 20:],
                         "ident": packet[4] << 8 | packet[5], "ttl": packet[8],
                         "zero_udp_checksum": udp and not (packet[26] or packet[27]), "label": ""})
    return d


def _decode_datagram_checked(packet: bytes) -> Datagram:
    """decode_datagram step by step, with the DecodeError that names what is wrong."""
    ip, body = decode_ipv4_header(packet)
    if ip.proto == IPProto.UDP:
        udp, payload = decode_udp(body, IPV4_HEADER_LEN)
        if not udp_checksum_ok(ip.src, ip.dst, body):
            raise DecodeError("UDP", IPV4_HEADER_LEN + OFF_UDP_CHECKSUM, "bad checksum")
        return Datagram(Endpoint(ip.src, udp.sport), Endpoint(ip.dst, udp.dport), ip.proto, payload,
                        ip.ident, ip.ttl, zero_udp_checksum=udp.checksum == 0)
    return Datagram(Endpoint(ip.src), Endpoint(ip.dst), ip.proto, body, ip.ident, ip.ttl)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
