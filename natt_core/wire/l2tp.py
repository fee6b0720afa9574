"""L2TP control messages, just enough to carry real L2TP over the tunnel (RFC 2661 §3.1, §4.4).

A control message: flags/version 0xC802 (T, L, S set; version 2), length, tunnel ID, session ID,
Ns, Nr, then AVPs; the first AVP is the Message Type (SCCRQ 1, SCCRP 2, HELLO 6, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..errors import ConfigError, DecodeError
from .codec import Reader
from .layout import Layout, Part, hexed, show_short_hex, show_size
from ..net.records import builder, fast_init_all


class MessageType(IntEnum):
    SCCRQ = 1
    SCCRP = 2
    SCCCN = 3
    STOPCCN = 4
    HELLO = 6
    ICRQ = 10
    ICRP = 11
    ICCN = 12
    CDN = 14


CONTROL_FLAGS = 0xC802
AVP_MANDATORY = 0x8000
AVP_HIDDEN = 0x4000
_AVP_BITS = 0xFC00    #: M, H and the four reserved bits above the 10-bit length (RFC 2661 §4.1)

#: RFC 2661 §3.1, a control message (T, L and S set: length, Ns and Nr present)
L2TP_HEADER = Layout("L2TP", Part("flags", 2, "flags / version", hexed(4)), Part("length", 2, "length"),
                     Part("tunnel_id", 2, "tunnel ID"), Part("session_id", 2, "session ID"),
                     Part("ns", 2, "Ns"), Part("nr", 2, "Nr"), Part("avps", None, "AVPs", show_size))
#: RFC 2661 §4.1
AVP_HEADER = Layout("L2TP AVP", Part("bits_length", 2, "M / H / length", hexed(4)),
                    Part("vendor", 2, "vendor ID"), Part("attr", 2, "attribute type"),
                    Part("value", lambda row, left: (row["bits_length"] & 0x3FF) - 6, "attribute value",
                         show_short_hex))


@dataclass(frozen=True)
class Avp:
    """One attribute-value pair; `bits` holds M (mandatory), H (hidden) and the reserved bits."""
    attr: int
    value: bytes
    bits: int = AVP_MANDATORY
    vendor: int = 0

    def __post_init__(self) -> None:
        if self.bits & ~_AVP_BITS or not 0 <= self.attr <= 0xFFFF or not 0 <= self.vendor <= 0xFFFF:
            raise ConfigError("AVP bits must lie in 0xFC00; attribute and vendor are 16-bit")
        if len(self.value) + 6 > 0x3FF:
            raise ConfigError(f"AVP value of {len(self.value)} bytes does not fit the 10-bit length")

    @property
    def mandatory(self) -> bool:
        return bool(self.bits & AVP_MANDATORY)

    def encode(self) -> bytes:
        return AVP_HEADER.pack(self.bits | (6 + len(self.value)), self.vendor, self.attr) + self.value


_HEADER = L2TP_HEADER.struct   #: compiled from the layouts above: one pack/unpack per header
_AVP = AVP_HEADER.struct


@dataclass(frozen=True)
class L2tpControl:
    """A whole control message: the header fields and its AVPs in order (empty for a ZLB ack)."""
    tunnel_id: int
    session_id: int
    ns: int
    nr: int
    avps: tuple[Avp, ...] = ()
    flags: int = CONTROL_FLAGS

    def encode(self) -> bytes:
        """The inverse of `decode_l2tp`; the length field is computed."""
        body = b"".join([a.encode() for a in self.avps])
        return encode_message(self.tunnel_id, self.session_id, self.ns, self.nr, body, self.flags)


def encode_avps(avps) -> bytes:
    """(attribute, value) pairs as mandatory AVPs of vendor 0, in one block (RFC 2661 §4.1)."""
    parts = []
    for attr, value in avps:
        size = 6 + len(value)
        if size > 0x3FF:
            raise ConfigError(f"AVP value of {len(value)} bytes does not fit the 10-bit length")
        parts += (_AVP.pack(AVP_MANDATORY | size, 0, attr), value)
    return b"".join(parts)


def encode_message(tunnel_id: int, session_id: int, ns: int, nr: int, avps: bytes = b"",
                   flags: int = CONTROL_FLAGS) -> bytes:
    """A control message from its header fields and its already encoded AVPs."""
    length = _HEADER.size + len(avps)
    if length > 0xFFFF:
        raise ConfigError("L2TP message longer than 65535 bytes")
    return _HEADER.pack(flags, length, tunnel_id, session_id, ns, nr) + avps


def _avp(attr: int, value: bytes, mandatory: bool = True) -> Avp:
    return Avp(attr, value, AVP_MANDATORY if mandatory else 0)


def control_message(kind: MessageType, tunnel_id: int = 0, ns: int = 0, nr: int = 0,
                    host_name: str = "natt-lab", assigned_tunnel: int = 1) -> bytes:
    """A complete L2TP control message of the given type with the AVPs RFC 2661 requires for it."""
    avps = [_avp(0, int(kind).to_bytes(2, "big"))]
    if kind in (MessageType.SCCRQ, MessageType.SCCRP):
        avps += [_avp(2, bytes([1, 0])),                            # Protocol Version 1.0
                 _avp(3, (3).to_bytes(4, "big")),                   # Framing Capabilities: sync+async
                 _avp(7, host_name.encode()),                       # Host Name
                 _avp(9, assigned_tunnel.to_bytes(2, "big"))]       # Assigned Tunnel ID
    return L2tpControl(tunnel_id, 0, ns, nr, tuple(avps)).encode()


def read_l2tp(data: bytes) -> tuple[tuple[int, ...], list[tuple[int, int, int, bytes]]]:
    """The header values (flags, length, tunnel, session, Ns, Nr) and the AVPs as (bits, vendor,
    attribute, value), checked as `decode_l2tp` says; one struct read per header."""
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n < _HEADER.size:
        L2TP_HEADER.read(Reader(data, "L2TP"))        # names the truncated field
    header = _HEADER.unpack_from(data)
    flags, length = header[0], header[1]
    if flags & 0xC80F != 0xC802 or flags & 0x0300:
        raise DecodeError("L2TP", 0, f"not an L2TPv2 control message (flags 0x{flags:04x})")
    if length != n:
        raise DecodeError("L2TP", 2, f"length field {length} but {n} bytes")
    avps = []
    at, unpack = _HEADER.size, _AVP.unpack_from
    while at < n:
        if n - at < 6:
            AVP_HEADER.read(_reader_at(data, at))    # names the truncated field
        bits_length, vendor, attr = unpack(data, at)
        if bits_length & 0x3C00:
            raise DecodeError("L2TP", at, f"AVP reserved bits set (0x{bits_length:04x})")
        end = at + (bits_length & 0x3FF)
        if end < at + 6:
            raise DecodeError("L2TP", at, f"AVP length {bits_length & 0x3FF} is less than 6")
        if end > n:
            raise DecodeError("L2TP", at + 6, f"truncated attribute value: need {end - at - 6} bytes, "
                              f"{n - at - 6} left")
        avps.append((bits_length & _AVP_BITS, vendor, attr, data[at + 6:end]))
        at = end
    return header, avps


def _reader_at(data: bytes, at: int) -> Reader:
    r = Reader(data, "L2TP")
    r.pos = at
    return r


_NEW_AVP = builder(Avp)   #: the decoder's AVPs are checked as they are read: no __post_init__ again


def decode_l2tp(data: bytes) -> L2tpControl:
    """A control message, strictly: T, L and S set, O and P clear, version 2 (RFC 2661 §3.1), the
    length field exact, every AVP length within the message and its reserved bits zero."""
    (flags, _, tunnel, session, ns, nr), avps = read_l2tp(data)
    return L2tpControl(tunnel, session, ns, nr, tuple([_NEW_AVP(attr, value, bits, vendor)
                                                       for bits, vendor, attr, value in avps]), flags)


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
    message = decode_l2tp(data)
    first = message.avps[0] if message.avps else None
    if first is None or first.attr != 0 or first.vendor != 0 or len(first.value) != 2:
        raise DecodeError("L2TP", 12, "the first AVP must be an 8-byte Message Type")
    return ControlMessage(int.from_bytes(first.value, "big"), message.tunnel_id, message.ns, message.nr)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
