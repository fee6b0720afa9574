"""ISAKMP framing: the fixed header and the generic payload header every payload starts with.

RFC 2408 §3.1 (header) and §3.2 (generic payload header: next payload, reserved, length). The
same generic header frames proposals and transforms inside an SA payload (§3.5, §3.6). Integer
fields are checked against their wire widths when a dataclass is built, so a bad value is a
ConfigError here rather than an OverflowError deep inside an encoder.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, DecodeError
from .codec import Reader, Writer
from .numbers import Flag

HEADER_LEN = 28
GENERIC_HEADER_LEN = 4


def _check(what: str, value: int, bits: int) -> None:
    """Reject a value that does not fit its wire width here, not deep inside `to_bytes`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ConfigError(f"{what} must be an integer 0..{(1 << bits) - 1}, got {value!r}")


class _Fields:
    """Checks a dataclass's integer fields against their wire widths (`_WIDTHS`) on creation."""
    _WIDTHS: dict[str, int] = {}

    def __post_init__(self) -> None:
        for name, bits in self._WIDTHS.items():
            _check(f"{type(self).__name__}.{name}", getattr(self, name), bits)


# --- header ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header(_Fields):
    """The fixed 28-byte ISAKMP header (RFC 2408 §3.1)."""
    icookie: bytes       #: initiator cookie, 8 bytes
    rcookie: bytes       #: responder cookie, 8 bytes; zero in MM1
    next_payload: int    #: type of the first payload (set by `encode_message`)
    exchange: int        #: ExchangeType value
    flags: int = 0
    message_id: int = 0
    length: int = 0      #: whole message incl. this header (set by the encoders)
    version: int = 0x10  #: major version in the high nibble, minor in the low one
    _WIDTHS = {"next_payload": 8, "exchange": 8, "flags": 8, "message_id": 32, "length": 32,
               "version": 8}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not all(isinstance(c, bytes) and len(c) == 8 for c in (self.icookie, self.rcookie)):
            raise ConfigError("both cookies must be 8 bytes")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & Flag.ENCRYPTED)


def encode_header(h: Header, body_len: int) -> bytes:
    """The header bytes with length = 28 + body_len (whatever `h.length` says)."""
    _check("message length", HEADER_LEN + body_len, 32)
    return (Writer().raw(h.icookie).raw(h.rcookie).u8(h.next_payload).u8(h.version)
            .u8(h.exchange).u8(h.flags).u32(h.message_id).u32(HEADER_LEN + body_len).getvalue())


def decode_header(data: bytes) -> tuple[Header, bytes]:
    """Parse and validate the header of a whole message; return it and the body after it."""
    r = Reader(data, "ISAKMP header")
    if len(data) < HEADER_LEN:
        raise r.fail(f"truncated header: need {HEADER_LEN} bytes, {len(data)} left")
    icookie, rcookie = r.bytes(8), r.bytes(8)
    next_payload, version, exchange, flags = r.u8(), r.u8(), r.u8(), r.u8()
    message_id, length = r.u32(), r.u32()
    if version >> 4 != 1:
        raise r.fail(f"version 0x{version:02x}: major {version >> 4}, expected 1", at=17)
    if length != len(data):
        raise r.fail(f"length field {length} but {len(data)} bytes", at=24)
    if icookie == bytes(8):
        raise r.fail("initiator cookie is zero", at=0)
    header = Header(icookie, rcookie, next_payload, exchange, flags, message_id, length, version)
    return header, r.rest()


# --- generic payload header ----------------------------------------------------------------------

def _generic(next_type: int, body: bytes) -> bytes:
    """Generic header (next, reserved 0, length) + body, for payloads, proposals, transforms."""
    length = GENERIC_HEADER_LEN + len(body)
    if length > 0xFFFF:
        raise ConfigError(f"payload of {length} bytes does not fit the 16-bit length field")
    return Writer().u8(next_type).u8(0).u16(length).raw(body).getvalue()


def _block(r: Reader, layer: str, what: str, min_len: int) -> tuple[int, Reader]:
    """Read a generic header; return (next type, a Reader over exactly the rest of the block)."""
    at = r.offset
    if r.remaining() < GENERIC_HEADER_LEN:
        raise DecodeError(layer, at, f"truncated {what} header: need 4 bytes, {r.remaining()} left")
    nxt, _reserved, length = r.u8(), r.u8(), r.u16()
    if length < min_len:
        raise DecodeError(layer, at + 2, f"{what} length {length} is less than {min_len}")
    if length - GENERIC_HEADER_LEN > r.remaining():
        left = r.remaining() + GENERIC_HEADER_LEN
        raise DecodeError(layer, at + 2, f"{what} length {length} exceeds the {left} bytes left")
    return nxt, r.sub(length - GENERIC_HEADER_LEN, layer, what)
