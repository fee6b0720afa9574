"""L2TP control messages, just enough to carry real L2TP over the tunnel (RFC 2661 §3.1, §4.4).

A control message: flags/version 0xC802 (T, L, S set; version 2), length, tunnel ID, session ID,
Ns, Nr, then AVPs; the first AVP is the Message Type (SCCRQ 1, SCCRP 2, HELLO 6, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..errors import DecodeError
from .codec import Reader


class MessageType(IntEnum):
    SCCRQ = 1
    SCCRP = 2
    SCCCN = 3
    STOPCCN = 4
    HELLO = 6


CONTROL_FLAGS = 0xC802
AVP_MANDATORY = 0x8000


def _avp(attr: int, value: bytes, mandatory: bool = True) -> bytes:
    length = 6 + len(value)
    return ((AVP_MANDATORY if mandatory else 0) | length).to_bytes(2, "big") + b"\x00\x00" + \
        attr.to_bytes(2, "big") + value


def control_message(kind: MessageType, tunnel_id: int = 0, ns: int = 0, nr: int = 0,
                    host_name: str = "natt-lab", assigned_tunnel: int = 1) -> bytes:
    """A complete L2TP control message of the given type with the AVPs RFC 2661 requires for it."""
    avps = _avp(0, int(kind).to_bytes(2, "big"))
    if kind in (MessageType.SCCRQ, MessageType.SCCRP):
        avps += _avp(2, bytes([1, 0]))                            # Protocol Version 1.0
        avps += _avp(3, (3).to_bytes(4, "big"))                   # Framing Capabilities: sync+async
        avps += _avp(7, host_name.encode())                       # Host Name
        avps += _avp(9, assigned_tunnel.to_bytes(2, "big"))       # Assigned Tunnel ID
    length = 12 + len(avps)
    return (CONTROL_FLAGS.to_bytes(2, "big") + length.to_bytes(2, "big") + tunnel_id.to_bytes(2, "big")
            + b"\x00\x00" + ns.to_bytes(2, "big") + nr.to_bytes(2, "big") + avps)


@dataclass(frozen=True)
class ControlMessage:
    kind: int
    tunnel_id: int
    ns: int
    nr: int

    @property
    def name(self) -> str:
        try:
            return MessageType(self.kind).name
        except ValueError:
            return f"L2TP message {self.kind}"


def decode_control(data: bytes) -> ControlMessage:
    """Parse the header and the Message Type AVP; DecodeError if it is not a control message."""
    r = Reader(data, "L2TP")
    flags = r.u16("flags/version")
    if flags & 0xC000 != 0xC000 or flags & 0x000F != 2:
        raise DecodeError("L2TP", 0, f"not an L2TPv2 control message (flags 0x{flags:04x})")
    length = r.u16("length")
    if length != len(data):
        raise DecodeError("L2TP", 2, f"length field {length} but {len(data)} bytes")
    tunnel, _session, ns, nr = r.u16(), r.u16(), r.u16(), r.u16()
    head, _vendor, attr = r.u16("AVP header"), r.u16(), r.u16()
    if attr != 0 or head & 0x03FF != 8:
        raise DecodeError("L2TP", 12, "the first AVP must be an 8-byte Message Type")
    return ControlMessage(r.u16("message type"), tunnel, ns, nr)
