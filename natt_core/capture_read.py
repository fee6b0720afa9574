"""Reading capture files someone brings: libpcap and pcapng, down to their IP packets.

Our own reader rather than scapy's, chosen by measuring and by what a diagnosis needs: on a
100k-packet pcap (`python -m natt_core bench`) scapy's `RawPcapReader` only iterates the records,
2-5x faster than ours iterates them *and* strips every link layer down to IP; either is a small
part of diagnosing the file (about a fifth), so speed does not decide. What does: it numbers
frames exactly as Wireshark does (every record counts, also ARP, STP or a link type we cannot
read), reads bytes already in memory (an upload),
and keeps going where a reader that raises would lose the whole file: a cut last record, unknown
pcapng blocks, an empty if_tsresol option, a record claiming a huge length.

Lenient about contents, strict about bounds: frames that are not IP are counted and skipped;
damage after the first readable packet ends the reading with a note saying what and where (the
diagnosis says it too); damage before any packet is a `DecodeError`. Link types: Ethernet (1,
with 802.1Q/802.1ad tags), raw IP (12, 14, 101, 228, 229), Linux cooked v1/v2 (113, 276), BSD
loopback/null (0, 108); IPv4 and IPv6 alike.

Formats: libpcap (https://wiki.wireshark.org/Development/LibpcapFileFormat) and pcapng
(draft-ietf-opsawg-pcapng §4.1 SHB, §4.2 IDB, §4.3 EPB, §4.4 SPB, Appendix A obsolete PB, §3.5 options).
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from typing import NamedTuple

from .errors import DecodeError

MAX_PACKETS = 500_000     #: more than any handshake needs; the rest of a bigger file is left unread (and said so)
MAX_RECORD = 262_144      #: libpcap's largest snap length: a record claiming more is damage, not data
ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_AF_INET6 = (10, 24, 28, 30)       #: Linux, NetBSD/OpenBSD, FreeBSD, macOS
_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
                b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
LINKTYPES = {0: "null", 1: "Ethernet", 12: "raw IP", 14: "raw IP", 101: "raw IP", 108: "loopback",
             113: "Linux cooked", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2"}
CAPTURE_MAGICS = tuple(_PCAP_MAGICS) + (b"\x0a\x0d\x0d\x0a",)


class CapturedPacket(NamedTuple):
    time: float          #: seconds since the first packet of the file
    packet: bytes        #: the IP packet (v4 or v6), from its header on
    interface: str       #: the pcapng interface name (or "capture")
    frame: int = 0       #: Wireshark's frame number (every record counts, also the skipped ones)


@dataclass(frozen=True)
class Capture:
    packets: tuple[CapturedPacket, ...]
    skipped: int                 #: frames that were not IP (ARP, STP, unknown link types)
    format: str                  #: "pcap" or "pcapng"
    frames: int = 0              #: every frame of the file, as Wireshark numbers them
    notes: tuple[str, ...] = ()  #: damage and limits met while reading, in words

    @property
    def interfaces(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.interface for p in self.packets))

    def at_frame(self, frame: int) -> CapturedPacket | None:
        """The packet Wireshark numbers `frame` (None for a skipped, non-IP frame)."""
        i = bisect.bisect_left(self.packets, frame, key=lambda p: p.frame)
        return self.packets[i] if i < len(self.packets) and self.packets[i].frame == frame else None


def _linktype_ok(linktype: int) -> bool:
    return linktype in LINKTYPES


def _ip_of(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside one link-layer frame, or None if it carries something else."""
    if linktype in (12, 14, 101, 228, 229):
        ip = frame
    elif linktype == 1:
        at, ethertype = 12, None
        while len(frame) >= at + 2:
            ethertype = int.from_bytes(frame[at:at + 2], "big")
            if ethertype not in _VLAN_TAGS:
                break
            at += 4
        ip = frame[at + 2:] if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else b""
    elif linktype == 113:
        ip = frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else b""
    elif linktype == 276:
        ip = frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else b""
    elif linktype in (0, 108):
        family = {int.from_bytes(frame[:4], "little"), int.from_bytes(frame[:4], "big")}
        ip = frame[4:] if family & {2, *_AF_INET6} else b""
    else:
        return None
    if len(ip) >= 20 and ip[0] >> 4 == 4 or len(ip) >= 40 and ip[0] >> 4 == 6:
        return ip
    return None


class _Collector:
    def __init__(self, fmt: str):
        self.fmt, self.packets, self.skipped, self.t0, self.frames = fmt, [], 0, None, 0
        self.notes: list[str] = []
        self.full = False

    def add(self, when: float, linktype: int, frame: bytes, interface: str) -> None:
        self.frames += 1
        ip = _ip_of(linktype, frame)
        if ip is None:
            self.skipped += 1
            return
        if len(self.packets) >= MAX_PACKETS:
            self.notes.append(f"only the first {MAX_PACKETS} IP packets were read (frames up to "
                              f"{self.frames - 1}); cut the capture to the connection attempt")
            self.full = True
            return
        self.t0 = when if self.t0 is None else self.t0
        self.packets.append(CapturedPacket(when - self.t0, ip, interface, self.frames))

    def damage(self, at: int, what: str) -> None:
        """Damage ends the reading: before any packet the file is refused, after one it is a note."""
        if not self.packets:
            raise DecodeError("capture", at, what)
        self.notes.append(f"{what} (at byte {at}, after frame {self.frames}); the {len(self.packets)} packets "
                          "before it are diagnosed")

    def result(self) -> Capture:
        return Capture(tuple(self.packets), self.skipped, self.fmt, self.frames, tuple(self.notes))


def _unpack(fmt: str, data: bytes, at: int, what: str) -> tuple:
    size = struct.calcsize(fmt)
    if at + size > len(data):
        raise DecodeError("capture", at, f"{what} truncated: need {size} bytes, {len(data) - at} left")
    return struct.unpack_from(fmt, data, at)


def _read_pcap(data: bytes) -> Capture:
    order, unit = _PCAP_MAGICS[data[:4]]
    _, _, _, _, _, linktype = _unpack(order + "HHiIII", data, 4, "pcap file header")
    linktype &= 0xFFFF
    if not _linktype_ok(linktype):
        raise DecodeError("capture", 20, f"link type {linktype} is not supported (Ethernet, raw IP, "
                                         "Linux cooked and loopback are)")
    out, at, end, record = _Collector("pcap"), 24, len(data), struct.Struct(order + "IIII").unpack_from
    while at < end and not out.full:
        if at + 16 > end:
            out.damage(at, f"the file ends inside a record header ({end - at} of 16 bytes)")
            break
        sec, frac, incl, _orig = record(data, at)
        if incl > MAX_RECORD:
            out.damage(at, f"a record claims {incl} bytes, more than any capture holds: the file is damaged here")
            break
        if at + 16 + incl > end:
            out.damage(at, f"packet record of {incl} bytes runs past the end of the file (the last record is cut)")
            break
        out.add(sec + frac * unit, linktype, data[at + 16:at + 16 + incl], "capture")
        at += 16 + incl
    return out.result()


def _options(data: bytes, order: str) -> dict[int, bytes]:
    found, at = {}, 0
    while at + 4 <= len(data):
        code, length = struct.unpack_from(order + "HH", data, at)
        if code == 0:
            break
        found.setdefault(code, data[at + 4:at + 4 + length])
        at += 4 + length + (-length % 4)
    return found


def _resolution(value: bytes) -> float:
    """if_tsresol (§4.2): 10^-n, or 2^-n with the top bit set; absent or empty means microseconds."""
    resol = value[0] if value else 6
    return 2.0 ** -(resol & 0x7F) if resol & 0x80 else 10.0 ** -resol


def _read_pcapng(data: bytes) -> Capture:
    out, at, order = _Collector("pcapng"), 0, "<"
    interfaces: list[tuple[int, float, str]] = []
    unknown: dict[int, int] = {}
    unreadable: set[str] = set()
    while at < len(data) and not out.full:
        if at + 12 > len(data):
            out.damage(at, f"the file ends inside a block header ({len(data) - at} bytes left)")
            break
        if struct.unpack_from("<I", data, at)[0] == _SHB:
            magic = data[at + 8:at + 12]
            order = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(magic)
            if order is None:
                out.damage(at + 8, "pcapng section header with a bad byte-order magic")
                break
            interfaces = []
        kind, length = struct.unpack_from(order + "II", data, at)
        if length < 12 or length % 4 or at + length > len(data):
            out.damage(at + 4, f"pcapng block length {length} does not fit (the last block is cut or damaged)")
            break
        body = data[at + 8:at + length - 4]
        try:
            if kind == _IDB:
                linktype = _unpack(order + "H", body, 0, "interface description")[0]
                opts = _options(body[8:], order)
                name = opts.get(2, b"").decode("utf-8", "replace") or f"if{len(interfaces)}"
                interfaces.append((linktype, _resolution(opts.get(9, b"")), name))
                if not _linktype_ok(linktype):
                    unreadable.add(f"{name} (link type {linktype})")
            elif kind in (_EPB, _SPB, _PB):
                if kind == _EPB:
                    iface, high, low, incl, _orig = _unpack(order + "IIIII", body, 0, "enhanced packet block")
                    frame, stamp = body[20:20 + incl], (high << 32) | low
                elif kind == _PB:
                    iface, _drops, high, low, incl, _orig = _unpack(order + "HHIIII", body, 0, "packet block")
                    frame, stamp = body[20:20 + incl], (high << 32) | low
                else:
                    iface, stamp = 0, 0
                    frame = body[4:4 + _unpack(order + "I", body, 0, "simple packet block")[0]]
                if iface >= len(interfaces):
                    raise DecodeError("capture", at, f"packet on interface {iface}, which was never described")
                linktype, unit, name = interfaces[iface]
                out.add(stamp * unit, linktype, frame, name)
            elif kind != _SHB:
                unknown[kind] = unknown.get(kind, 0) + 1
        except DecodeError as exc:
            out.damage(at, exc.reason)
            break
        at += length
    if unknown:
        out.notes.append("skipped blocks that hold no packets: " + ", ".join(
            f"{n} of type 0x{k:x}" for k, n in sorted(unknown.items())))
    if unreadable:
        if not out.packets:
            raise DecodeError("capture", 0, f"no interface has a supported link type: {', '.join(sorted(unreadable))}")
        out.notes.append(f"frames of {', '.join(sorted(unreadable))} were skipped: link type not supported")
    return out.result()


def read_capture(data: bytes) -> Capture:
    """Every IP packet of a libpcap or pcapng file, in file order, with Wireshark's frame numbers."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 24:
        raise DecodeError("capture", 0, "not a capture file: too short for a pcap or pcapng header")
    data = bytes(data)
    if data[:4] in _PCAP_MAGICS:
        return _read_pcap(data)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(data)
    raise DecodeError("capture", 0, f"not a pcap or pcapng file (starts with {data[:4].hex()}); "
                                    "save the capture as .pcap or .pcapng")
