"""Capture files of the virtual network, for Wireshark/tshark.

`pcap_bytes`/`write_pcap` write classic libpcap files; `pcapng_bytes`/`write_pcapng` write pcapng
with one interface per capture point (option if_name) and a comment per packet (opt_comment), so
one file shows both sides of a NAT and says what the NAT rewrote. Packets are raw IPv4
(LINKTYPE_RAW = 101), exactly the bytes the network carried.

Formats: libpcap (https://wiki.wireshark.org/Development/LibpcapFileFormat) and pcapng
(draft-ietf-opsawg-pcapng: SHB §4.1, IDB §4.2, EPB §4.3, options §3.5). Virtual time 0 is shown as
`EPOCH` so Wireshark prints a sane date.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Iterable, Sequence

from .errors import ConfigError

LINKTYPE_RAW = 101
SNAPLEN = 65535
EPOCH = 1_704_067_200  # 2024-01-01 00:00:00 UTC: what virtual time 0 looks like in a capture

PCAP_MAGIC_USEC = 0xA1B2C3D4
SHB_TYPE = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
OPT_SHB_USERAPPL = 4
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9


def _micros(t: float) -> int:
    """Virtual seconds -> microseconds since the Unix epoch."""
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
        raise ConfigError(f"capture time must be a finite number >= 0, got {t!r}")
    return EPOCH * 1_000_000 + round(t * 1_000_000)


def _packet(data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ConfigError(f"captured packet must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > SNAPLEN:
        raise ConfigError(f"captured packet of {len(data)} bytes exceeds snaplen {SNAPLEN}")
    return data


def pcap_bytes(records: Iterable[tuple[float, bytes]]) -> bytes:
    """A classic pcap file (little-endian, microsecond timestamps, LINKTYPE_RAW)."""
    out = [struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW)]
    for t, data in records:
        data = _packet(data)
        sec, usec = divmod(_micros(t), 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return b"".join(out)


def write_pcap(path: str | Path, records: Iterable[tuple[float, bytes]]) -> None:
    Path(path).write_bytes(pcap_bytes(records))


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    """pcapng options: code, length, value padded to 32 bits; closed by opt_endofopt."""
    if not opts:
        return b""
    body = b"".join(struct.pack("<HH", code, len(value)) + _pad4(value) for code, value in opts)
    return body + struct.pack("<HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _text(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {type(value).__name__}")
    data = value.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ConfigError(f"{what} is longer than 65535 bytes")
    return data


def pcapng_bytes(interfaces: Sequence[tuple[str, Iterable[tuple[float, bytes, str | None]]]]) -> bytes:
    """A pcapng file: one interface per (name, packets); packets merged in time order."""
    shb = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(
        [(OPT_SHB_USERAPPL, b"NAT-T Lab")])
    out = [_block(SHB_TYPE, shb)]
    merged: list[tuple[int, int, int, bytes, str | None]] = []
    for index, (name, packets) in enumerate(interfaces):
        if not name:
            raise ConfigError("every capture interface needs a name")
        idb = struct.pack("<HHI", LINKTYPE_RAW, 0, SNAPLEN) + _options(
            [(OPT_IF_NAME, _text(name, "interface name")), (OPT_IF_TSRESOL, bytes([6]))])
        out.append(_block(IDB_TYPE, idb))
        for t, data, comment in packets:
            merged.append((_micros(t), index, len(merged), _packet(data), comment))
    merged.sort(key=lambda item: item[:3])
    for micros, index, _, data, comment in merged:
        opts = [(OPT_COMMENT, _text(comment, "packet comment"))] if comment else []
        epb = struct.pack("<IIIII", index, micros >> 32, micros & 0xFFFFFFFF, len(data), len(data))
        out.append(_block(EPB_TYPE, epb + _pad4(data) + _options(opts)))
    return b"".join(out)


def write_pcapng(path: str | Path,
                 interfaces: Sequence[tuple[str, Iterable[tuple[float, bytes, str | None]]]]) -> None:
    Path(path).write_bytes(pcapng_bytes(interfaces))
