"""L2TP data messages: the header that carries one PPP frame of a call (RFC 2661 §3.1, §5.3, §5.4).

We send the Linux kernel's form (flags 0x0002: no length, no sequence numbers, no offset; then the
peer's tunnel and session IDs) and accept every optional field on receipt.
"""
from __future__ import annotations

import struct

from ..errors import DecodeError

DATA_FLAGS = 0x0002
_T, _L, _S, _O = 0x8000, 0x4000, 0x0800, 0x0200
_HEAD = struct.Struct("!HHH")    #: flags, tunnel ID, session ID: the header we send


def encode_data(tunnel_id: int, session_id: int, frame: bytes) -> bytes:
    return _HEAD.pack(DATA_FLAGS, tunnel_id, session_id) + frame


def is_data(data: bytes) -> bool:
    """A data message has the T bit clear (§3.1); control messages have it set."""
    return len(data) >= 2 and not data[0] & 0x80


def decode_data(data: bytes) -> tuple[int, int, bytes]:
    """(tunnel ID, session ID, PPP frame); DecodeError if it is not an L2TPv2 data message."""
    n = len(data)
    if n < 6:
        raise DecodeError("L2TP", 0, f"a data message needs at least 6 bytes, not {n}")
    flags = data[0] << 8 | data[1]
    if flags == DATA_FLAGS:          # the kernel's form: no length, sequence or offset fields
        return data[2] << 8 | data[3], data[4] << 8 | data[5], data[6:]
    if flags & _T or flags & 0x000F != 2:
        raise DecodeError("L2TP", 0, f"not an L2TPv2 data message (flags 0x{flags:04x})")
    at, end = 2, n
    if flags & _L:
        end = int.from_bytes(data[2:4], "big")
        at = 4
        if end > n or end < 6:
            raise DecodeError("L2TP", 2, f"length field {end} but {n} bytes")
    tunnel, session = int.from_bytes(data[at:at + 2], "big"), int.from_bytes(data[at + 2:at + 4], "big")
    at += 4 + (4 if flags & _S else 0)
    if flags & _O:
        if at + 2 > end:
            raise DecodeError("L2TP", at, "offset size field missing")
        at += 2 + int.from_bytes(data[at:at + 2], "big")
    if at > end:
        raise DecodeError("L2TP", at, "the header is longer than the message")
    return tunnel, session, data[at:end]


def data_parts(data: bytes) -> tuple[int, int, bytes] | None:
    """What a host asks of every L2TP payload: `decode_data` of a data message, None for anything
    `is_data` says is not one (a control message, or too short: the control decoder names that).
    A message in the kernel's form (all this lab sends: every PPP frame of a call) is read in place
    as decode_data reads it, without the two calls that ask and decode."""
    if len(data) >= 6 and data[0] << 8 | data[1] == DATA_FLAGS:
        return data[2] << 8 | data[3], data[4] << 8 | data[5], data[6:]
    return decode_data(data) if is_data(data) else None
