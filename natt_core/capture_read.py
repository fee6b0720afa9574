"""Reading capture files someone brings: libpcap and pcapng, down to their IPv4 packets.

The reader is strict about the file's structure (a broken upload raises `DecodeError` naming the
block and offset, never struct.error) and lenient about its contents: frames that are not IPv4
(ARP, IPv6, …) are counted and skipped. Link types: Ethernet (1, with 802.1Q tags), raw IP (101,
228), Linux cooked v1/v2 (113, 276), BSD loopback (0, 108).

Formats: libpcap (https://wiki.wireshark.org/Development/LibpcapFileFormat) and pcapng
(draft-ietf-opsawg-pcapng §4.1 SHB, §4.2 IDB, §4.3 EPB, §4.4 SPB, §3.5 options).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import DecodeError

MAX_PACKETS = 200_000     #: more than any handshake needs; a bigger file is refused, not half-read
ETHERTYPE_IPV4, ETHERTYPE_VLAN = 0x0800, 0x8100
_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
                b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
_SHB, _IDB, _EPB, _SPB = 0x0A0D0D0A, 1, 6, 3


@dataclass(frozen=True)
class CapturedPacket:
    time: float          #: seconds since the first packet of the file
    packet: bytes        #: the IPv4 packet, from its header on
    interface: str       #: the pcapng interface name (or "capture")


@dataclass(frozen=True)
class Capture:
    packets: tuple[CapturedPacket, ...]
    skipped: int         #: frames that were not IPv4
    format: str          #: "pcap" or "pcapng"


def _ipv4_of(linktype: int, frame: bytes) -> bytes | None:
    """The IPv4 packet inside one link-layer frame, or None if it carries something else."""
    if linktype in (101, 228):
        ip = frame
    elif linktype == 1:
        at, ethertype = 12, None
        while len(frame) >= at + 2:
            ethertype = int.from_bytes(frame[at:at + 2], "big")
            if ethertype != ETHERTYPE_VLAN:
                break
            at += 4
        ip = frame[at + 2:] if ethertype == ETHERTYPE_IPV4 else b""
    elif linktype == 113:
        ip = frame[16:] if frame[14:16] == b"\x08\x00" else b""
    elif linktype == 276:
        ip = frame[20:] if frame[0:2] == b"\x08\x00" else b""
    elif linktype in (0, 108):
        ip = frame[4:] if frame[:4] in (b"\x02\x00\x00\x00", b"\x00\x00\x00\x02") else b""
    else:
        raise DecodeError("capture", 0, f"link type {linktype} is not supported (Ethernet, raw IP, "
                                        "Linux cooked and loopback are)")
    return ip if len(ip) >= 20 and ip[0] >> 4 == 4 else None


class _Collector:
    def __init__(self, fmt: str):
        self.fmt, self.packets, self.skipped, self.t0 = fmt, [], 0, None

    def add(self, when: float, linktype: int, frame: bytes, interface: str) -> None:
        ip = _ipv4_of(linktype, frame)
        if ip is None:
            self.skipped += 1
            return
        if len(self.packets) >= MAX_PACKETS:
            raise DecodeError("capture", 0, f"more than {MAX_PACKETS} packets: cut the capture to the handshake")
        self.t0 = when if self.t0 is None else self.t0
        self.packets.append(CapturedPacket(round(when - self.t0, 9), bytes(ip), interface))

    def result(self) -> Capture:
        return Capture(tuple(self.packets), self.skipped, self.fmt)


def _unpack(fmt: str, data: bytes, at: int, what: str) -> tuple:
    size = struct.calcsize(fmt)
    if at + size > len(data):
        raise DecodeError("capture", at, f"{what} truncated: need {size} bytes, {len(data) - at} left")
    return struct.unpack_from(fmt, data, at)


def _read_pcap(data: bytes) -> Capture:
    order, unit = _PCAP_MAGICS[data[:4]]
    _, _, _, _, _, linktype = _unpack(order + "HHiIII", data, 4, "pcap file header")
    out, at = _Collector("pcap"), 24
    while at < len(data):
        sec, frac, incl, _orig = _unpack(order + "IIII", data, at, "pcap record header")
        if at + 16 + incl > len(data):
            raise DecodeError("capture", at, f"packet record of {incl} bytes runs past the end of the file")
        out.add(sec + frac * unit, linktype & 0xFFFF, data[at + 16:at + 16 + incl], "capture")
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


def _read_pcapng(data: bytes) -> Capture:
    out, at, order = _Collector("pcapng"), 0, "<"
    interfaces: list[tuple[int, float, str]] = []
    while at < len(data):
        if at + 12 > len(data):
            raise DecodeError("capture", at, "pcapng block truncated")
        if struct.unpack_from("<I", data, at)[0] == _SHB:
            magic = data[at + 8:at + 12]
            order = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(magic)
            if order is None:
                raise DecodeError("capture", at + 8, "pcapng section header with a bad byte-order magic")
            interfaces = []
        kind, length = _unpack(order + "II", data, at, "pcapng block header")
        if length < 12 or length % 4 or at + length > len(data):
            raise DecodeError("capture", at + 4, f"pcapng block length {length} is invalid here")
        body = data[at + 8:at + length - 4]
        if kind == _IDB:
            linktype = _unpack(order + "H", body, 0, "interface description")[0]
            opts = _options(body[8:], order)
            resol = opts.get(9, b"\x06")[0]
            unit = 2.0 ** -(resol & 0x7F) if resol & 0x80 else 10.0 ** -resol
            name = opts.get(2, b"").decode("utf-8", "replace") or f"if{len(interfaces)}"
            interfaces.append((linktype, unit, name))
        elif kind in (_EPB, _SPB):
            if kind == _EPB:
                iface, high, low, incl, _orig = _unpack(order + "IIIII", body, 0, "enhanced packet block")
                frame, stamp = body[20:20 + incl], (high << 32) | low
            else:
                iface, stamp = 0, 0
                frame = body[4:4 + _unpack(order + "I", body, 0, "simple packet block")[0]]
            if iface >= len(interfaces):
                raise DecodeError("capture", at, f"packet on interface {iface}, which was never described")
            linktype, unit, name = interfaces[iface]
            out.add(stamp * unit, linktype, frame, name)
        at += length
    return out.result()


def read_capture(data: bytes) -> Capture:
    """Every IPv4 packet of a libpcap or pcapng file, in file order."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 24:
        raise DecodeError("capture", 0, "not a capture file: too short for a pcap or pcapng header")
    data = bytes(data)
    if data[:4] in _PCAP_MAGICS:
        return _read_pcap(data)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(data)
    raise DecodeError("capture", 0, f"not a pcap or pcapng file (starts with {data[:4].hex()}); "
                                    "save the capture as .pcap or .pcapng")
