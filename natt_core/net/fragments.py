"""IPv4 fragmentation and reassembly (RFC 791 §2.3/§3.2, RFC 815), and the ICMP that says "too big".

`fragment` splits one real IPv4 packet for a link MTU the way a host or router does: every piece
but the last carries a multiple of 8 payload bytes, has More Fragments set, keeps the
identification, and the last keeps the original MF (a fragment of a fragment stays one). A host
fragmenting its own oversized UDP datagram sends the pieces without DF, as Linux does
(IP_PMTUDISC_WANT: DF on what fits, local fragmentation of what does not).

`Reassembler` is the receiving end, bounded because fragments are unauthenticated: at most
`max_datagrams` partial datagrams and `max_bytes` held at once (like Linux's ipfrag_high_thresh, a
fragment that would start a new datagram beyond the caps is dropped, nothing old is evicted), each
forgotten `timeout` seconds after its first fragment (RFC 791 §3.2 suggests 15 s as the lower
bound; Linux's ipfrag_time is 30 s). Overlapping pieces drop the whole datagram, as Linux has done
since 4.19 (FragmentSmack), and as RFC 5722 asks for IPv6.

`frag_needed` builds ICMP Destination Unreachable, Fragmentation Needed and DF Set (type 3
code 4) with the next-hop MTU of RFC 1191 §4; `read_frag_needed` reads it back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from socket import inet_ntoa

from ..errors import DecodeError
from ..reasons import Reason
from ..wire.icmp import ICMP_PROTO
from ..wire.ip import IPV4_HEADER_LEN, OFF_IP_CHECKSUM, encode_ipv4_header, internet_checksum

MIN_MTU = 68            #: RFC 791: every module forwards 68 octets without fragmenting further
MAX_MTU = 65535
DF, MF = 0x4000, 0x2000
OFFSET_MASK = 0x1FFF
DEST_UNREACHABLE, FRAG_NEEDED = 3, 4
REASSEMBLY_TIMEOUT = 30.0   #: Linux net.ipv4.ipfrag_time
MAX_DATAGRAMS = 64          #: partial datagrams one receiver holds at once
MAX_BYTES = 256 * 1024      #: bytes of fragments one receiver holds at once (Linux: 4 MB)


@dataclass(frozen=True)
class FragmentInfo:
    """What the IPv4 header says about fragmentation (offset in bytes)."""
    src: str
    dst: str
    proto: int
    ident: int
    offset: int
    more: bool
    dont: bool
    header: bytes
    payload: bytes

    @property
    def key(self) -> tuple[str, str, int, int]:
        """RFC 791 §3.2: source, destination, protocol and identification name one datagram."""
        return self.src, self.dst, self.proto, self.ident

    @property
    def first(self) -> bool:
        return self.offset == 0


def flags_frag(packet: bytes) -> int:
    return int.from_bytes(packet[6:8], "big") if len(packet) >= 8 else 0


def is_fragment(packet: bytes) -> bool:
    """MF set or a non-zero offset (RFC 791 §3.1). Asked of every packet that arrives: no call inside."""
    return len(packet) >= 8 and bool((packet[6] << 8 | packet[7]) & (MF | OFFSET_MASK))


def read_fragment(packet: bytes) -> FragmentInfo:
    """The fragmentation fields of an option-less IPv4 header; DecodeError if it is not one."""
    if len(packet) < IPV4_HEADER_LEN or packet[0] != 0x45:
        raise DecodeError("IPv4", 0, "not an option-less IPv4 header")
    total = int.from_bytes(packet[2:4], "big")
    if total != len(packet):
        raise DecodeError("IPv4", 2, f"total length {total} but {len(packet)} bytes")
    if internet_checksum(packet[:IPV4_HEADER_LEN]):
        raise DecodeError("IPv4", OFF_IP_CHECKSUM, "bad header checksum")
    ff = flags_frag(packet)
    if ff & 0x8000:
        raise DecodeError("IPv4", 6, "reserved flag bit set")
    body = packet[IPV4_HEADER_LEN:]
    offset = (ff & OFFSET_MASK) * 8
    if ff & MF and (not body or len(body) % 8):
        raise DecodeError("IPv4", 2, f"a fragment with MF set must carry a multiple of 8 bytes, not {len(body)}")
    if offset + len(body) > MAX_MTU - IPV4_HEADER_LEN:
        raise DecodeError("IPv4", 6, f"fragment ends at byte {offset + len(body)}, beyond the largest datagram")
    return FragmentInfo(inet_ntoa(packet[12:16]), inet_ntoa(packet[16:20]), packet[9],
                        int.from_bytes(packet[4:6], "big"), offset, bool(ff & MF), bool(ff & DF),
                        bytes(packet[:IPV4_HEADER_LEN]), bytes(body))


def _header(header: bytes, total: int, ff: int) -> bytes:
    head = bytearray(header)
    head[2:4] = total.to_bytes(2, "big")
    head[6:8] = ff.to_bytes(2, "big")
    head[OFF_IP_CHECKSUM:OFF_IP_CHECKSUM + 2] = b"\x00\x00"
    head[OFF_IP_CHECKSUM:OFF_IP_CHECKSUM + 2] = internet_checksum(bytes(head)).to_bytes(2, "big")
    return bytes(head)


def fragment(packet: bytes, mtu: int, clear_df: bool = True) -> list[bytes]:
    """`packet` as IPv4 fragments of at most `mtu` bytes (one piece, unchanged, if it fits)."""
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise ValueError(f"MTU {mtu} is outside {MIN_MTU}..{MAX_MTU}")
    if len(packet) <= mtu:
        return [packet]
    info = read_fragment(packet)
    step = (mtu - IPV4_HEADER_LEN) // 8 * 8
    keep = flags_frag(packet) & (0 if clear_df else DF)
    body, out = info.payload, []
    for start in range(0, len(body), step):
        piece = body[start:start + step]
        last = start + step >= len(body)
        more = info.more if last else True
        ff = keep | (MF if more else 0) | ((info.offset + start) // 8)
        out.append(_header(info.header, IPV4_HEADER_LEN + len(piece), ff) + piece)
    return out


def frag_needed(router_ip: str, packet: bytes, next_hop_mtu: int, ident: int = 0) -> bytes:
    """ICMP type 3 code 4 from `router_ip` to the packet's source: the next-hop MTU in the low
    16 bits of the second word (RFC 1191 §4), then the original IP header and 64 bits of its data
    (RFC 792)."""
    quoted = packet[:IPV4_HEADER_LEN + 8]
    head = bytes([DEST_UNREACHABLE, FRAG_NEEDED, 0, 0, 0, 0]) + next_hop_mtu.to_bytes(2, "big")
    csum = internet_checksum(head + quoted)
    icmp = head[:2] + csum.to_bytes(2, "big") + head[4:] + quoted
    return encode_ipv4_header(router_ip, inet_ntoa(packet[12:16]), ICMP_PROTO, len(icmp), ident,
                              flags_frag=0) + icmp


@dataclass(frozen=True)
class FragNeeded:
    """What a host learns from a Fragmentation Needed: the path to `dst` takes `mtu` bytes."""
    router: str
    dst: str
    mtu: int


def read_frag_needed(src: str, icmp: bytes) -> FragNeeded | None:
    """A verified type 3 code 4 message, or None for any other ICMP."""
    if len(icmp) < 8 + IPV4_HEADER_LEN or icmp[0] != DEST_UNREACHABLE or icmp[1] != FRAG_NEEDED:
        return None
    if internet_checksum(icmp):
        raise DecodeError("ICMP", 2, "bad ICMP checksum")
    mtu = int.from_bytes(icmp[6:8], "big")
    if mtu < MIN_MTU:   # RFC 1191 §5: an old router says 0; then guess from the plateau table
        raise DecodeError("ICMP", 6, f"next-hop MTU {mtu} below the IPv4 minimum {MIN_MTU}")
    return FragNeeded(src, inet_ntoa(icmp[8 + 16:8 + 20]), mtu)


@dataclass
class _Partial:
    started: float
    first: bytes | None = None          #: the header of the offset-0 fragment
    pieces: dict[int, bytes] = field(default_factory=dict)   #: offset -> data
    end: int | None = None              #: total payload length, known from the last fragment
    size: int = 0


@dataclass(frozen=True)
class Outcome:
    """One fragment added: the whole packet when it completed one, or why it was dropped."""
    packet: bytes | None = None
    dropped: str | None = None
    code: Reason | None = None
    pieces: int = 0


class Reassembler:
    """One receiver's partial datagrams, bounded in number, bytes and time."""

    def __init__(self, timeout: float = REASSEMBLY_TIMEOUT, max_datagrams: int = MAX_DATAGRAMS,
                 max_bytes: int = MAX_BYTES):
        self.timeout, self.max_datagrams, self.max_bytes = timeout, max_datagrams, max_bytes
        self._partial: dict[tuple, _Partial] = {}
        self.held = 0
        self.timed_out = 0

    def __len__(self) -> int:
        return len(self._partial)

    def expire(self, now: float) -> int:
        """Forget partial datagrams older than the timeout; how many went."""
        gone = [k for k, p in self._partial.items() if now - p.started >= self.timeout]
        for k in gone:
            self.held -= self._partial.pop(k).size
        self.timed_out += len(gone)
        return len(gone)

    def add(self, packet: bytes, now: float) -> Outcome:
        self.expire(now)
        try:
            f = read_fragment(packet)
        except DecodeError as exc:
            return Outcome(dropped=str(exc), code=Reason.MALFORMED)
        p = self._partial.get(f.key)
        if p is None:
            if len(self._partial) >= self.max_datagrams or self.held + len(f.payload) > self.max_bytes:
                return Outcome(dropped=(f"reassembly buffer full ({len(self._partial)} partial datagrams, "
                                        f"{self.held} bytes held): a new datagram's fragment is dropped"),
                               code=Reason.REASSEMBLY_LIMIT)
            p = self._partial[f.key] = _Partial(now)
        elif self.held + len(f.payload) > self.max_bytes:
            self._drop(f.key)
            return Outcome(dropped="reassembly buffer full: the partial datagram is dropped",
                           code=Reason.REASSEMBLY_LIMIT)
        return self._place(f, p)

    def _drop(self, key) -> None:
        self.held -= self._partial.pop(key).size

    def _place(self, f: FragmentInfo, p: _Partial) -> Outcome:
        lo, hi = f.offset, f.offset + len(f.payload)
        if lo in p.pieces and p.pieces[lo] == f.payload:
            return Outcome()                # an exact duplicate (a link copied it): nothing new
        for start, data in p.pieces.items():
            if start < hi and lo < start + len(data):
                self._drop(f.key)
                return Outcome(dropped=f"fragment bytes {lo}..{hi} overlap bytes {start}..{start + len(data)} "
                                       "already received: the whole datagram is dropped", code=Reason.MALFORMED)
        if not f.more:
            if p.end is not None and p.end != hi or any(s + len(d) > hi for s, d in p.pieces.items()):
                self._drop(f.key)
                return Outcome(dropped="two different last fragments: the datagram is dropped", code=Reason.MALFORMED)
            p.end = hi
        elif p.end is not None and hi > p.end:
            self._drop(f.key)
            return Outcome(dropped="a fragment beyond the last one: the datagram is dropped", code=Reason.MALFORMED)
        p.pieces[lo] = f.payload
        p.size += len(f.payload)
        self.held += len(f.payload)
        if f.first:
            p.first = f.header
        if p.first is None or p.end is None or sum(map(len, p.pieces.values())) != p.end:
            return Outcome()
        self._drop(f.key)
        body = b"".join(p.pieces[k] for k in sorted(p.pieces))
        if IPV4_HEADER_LEN + len(body) > MAX_MTU:
            return Outcome(dropped="reassembled datagram longer than 65535 bytes", code=Reason.MALFORMED)
        ff = flags_frag(p.first) & DF
        return Outcome(packet=_header(p.first, IPV4_HEADER_LEN + len(body), ff) + body, pieces=len(p.pieces))
