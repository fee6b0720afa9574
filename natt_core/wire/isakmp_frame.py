"""ISAKMP framing: the fixed header and the generic payload header every payload starts with.

RFC 2408 §3.1 (header) and §3.2 (generic payload header: next payload, reserved, length). The
same generic header frames proposals and transforms inside an SA payload (§3.5, §3.6). Integer
fields are checked against their wire widths when a dataclass is built, so a bad value is a
ConfigError here rather than an OverflowError deep inside an encoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from ..errors import ConfigError, DecodeError
from .codec import Reader
from .layout import Layout, Part, hexed, named, show_hex
from .numbers import ExchangeType, Flag, PayloadType
from ..net.records import fast_init_all

HEADER_LEN = 28
GENERIC_HEADER_LEN = 4


#: int subclasses (IntEnums) seen passing the full check: the generated checks accept them with
#: one set lookup. Bounded by the number of int subclasses the program defines.
_INT_CLASSES: set[type] = set()


def _check(what: str, value: int, bits: int) -> None:
    """Reject a value that does not fit its wire width here, not deep inside `struct.pack`."""
    cls = value.__class__
    if (cls is int or cls in _INT_CLASSES) and 0 <= value < 1 << bits:   # no call for the usual ones
        return
    if isinstance(value, int) and cls is not bool and 0 <= value < 1 << bits:
        _INT_CLASSES.add(cls)
        return
    raise ConfigError(f"{what} must be an integer 0..{(1 << bits) - 1}, got {value!r}")


class _Fields:
    """Checks a dataclass's integer fields against their wire widths (`_WIDTHS`) on creation, then
    the class's own rules (`_validate`, when it has one). Each subclass gets its own generated
    `__post_init__` (see `_width_checker`)."""
    _WIDTHS: dict[str, int] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls._WIDTHS or hasattr(cls, "_validate") or hasattr(cls, "__post_init__"):
            cls.__post_init__ = _width_checker(cls)   # none at all when there is nothing to check


def _slow_width(obj, name: str, bits: int) -> None:
    """An int subclass (an IntEnum member) or a bad value: the full check, with its message."""
    _check(f"{type(obj).__name__}.{name}", obj.__dict__[name], bits)


def _width_checker(cls: type):
    """The `__post_init__` of one class: its `_WIDTHS` fields checked in a row, generated once
    (field names are identifiers), so a plain int or a known IntEnum in range costs a comparison
    and no call; anything else takes the full check. Then `cls._validate`, if defined."""
    lines = ["def __post_init__(obj):", "    d = obj.__dict__"]
    for name, bits in cls._WIDTHS.items():
        lines += [f"    v = d[{name!r}]",
                  f"    if v.__class__ is not int and v.__class__ not in _ints or not 0 <= v < {1 << bits}:",
                  f"        _slow(obj, {name!r}, {bits})"]
    if hasattr(cls, "_validate"):
        lines.append("    obj._validate()")
    space = {"_slow": _slow_width, "_ints": _INT_CLASSES}
    exec("\n".join(lines + ["    return None"]) + "\n", space)   # noqa: S102 - built from the class's own names
    check = space["__post_init__"]
    check.__qualname__ = f"{cls.__qualname__}.__post_init__"
    return check


_new = object.__new__
_set = object.__setattr__


def _build(cls, fields: dict):
    """An instance from decoded wire values, skipping `__init__`: the decoder already checked
    everything `__post_init__` would (struct widths bound the integers). `fields` must name
    every dataclass field."""
    obj = _new(cls)
    _set(obj, "__dict__", fields)
    return obj


# --- header ------------------------------------------------------------------------------------

def _flags(value: int, row: dict) -> str:
    names = [n for bit, n in ((Flag.ENCRYPTED, "E"), (Flag.COMMIT, "C"), (Flag.AUTH_ONLY, "A")) if value & bit]
    return f"0x{value:02x} {'+'.join(names) or '-'}"


#: RFC 2408 §3.1
HEADER = Layout(
    "ISAKMP",
    Part("icookie", 8, "initiator cookie", show_hex, raw=True),
    Part("rcookie", 8, "responder cookie", show_hex, raw=True),
    Part("next_payload", 1, "next payload", named(PayloadType)),
    Part("version", 1, "version", lambda v, row: f"{v >> 4}.{v & 15}"),
    Part("exchange", 1, "exchange type", named(ExchangeType)),
    Part("flags", 1, "flags", _flags),
    Part("message_id", 4, "message ID", hexed(8)),
    Part("length", 4, "length"),
)

#: RFC 2408 §3.2; also frames proposals and transforms (§3.5, §3.6)
GENERIC = Layout(
    "ISAKMP payload",
    Part("next", 1, "next payload", named(PayloadType)),
    Part("reserved", 1, "reserved", zero=True),
    Part("length", 2, "payload length"),
)
_GENERIC_PACK = GENERIC.struct.pack
_HEADER_PACK = HEADER.struct.pack
_HEADER_UNPACK = HEADER.struct.unpack_from
_GENERIC_UNPACK = GENERIC.struct.unpack_from


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

    def _validate(self) -> None:
        icookie, rcookie = self.icookie, self.rcookie
        if not (isinstance(icookie, bytes) and isinstance(rcookie, bytes) and len(icookie) == len(rcookie) == 8):
            raise ConfigError("both cookies must be 8 bytes")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & Flag.ENCRYPTED)


def encode_header(h: Header, body_len: int, next_payload: int | None = None) -> bytes:
    """The header bytes with length = 28 + body_len (whatever `h.length` says), and
    `next_payload` instead of `h.next_payload` when given."""
    return pack_header(h.icookie, h.rcookie, h.next_payload if next_payload is None else next_payload,
                       h.exchange, h.flags, h.message_id, body_len, h.version)


def pack_header(icookie: bytes, rcookie: bytes, next_payload: int, exchange: int, flags: int,
                message_id: int, body_len: int, version: int = 0x10) -> bytes:
    """The header bytes from its fields, length = 28 + body_len. For fields the engine holds
    already checked (an SA's cookies, a Message ID it drew): no `Header` built per message."""
    length = HEADER_LEN + body_len
    if length.__class__ is not int or length >= 1 << 32:
        _check("message length", length, 32)
    return _HEADER_PACK(icookie, rcookie, next_payload, version, exchange, flags, message_id, length)


def decode_header(data: bytes) -> tuple[Header, bytes]:
    """Parse and validate the header of a whole message; return it and the body after it."""
    data = bytes(data)
    size = len(data)
    if size < HEADER_LEN:
        raise DecodeError("ISAKMP header", 0, f"truncated header: need {HEADER_LEN} bytes, {size} left")
    icookie, rcookie, next_payload, version, exchange, flags, message_id, length = _HEADER_UNPACK(data)
    if version >> 4 != 1:
        raise DecodeError("ISAKMP header", 17, f"version 0x{version:02x}: major {version >> 4}, expected 1")
    if length != size:
        raise DecodeError("ISAKMP header", 24, f"length field {length} but {size} bytes")
    if icookie == _ZERO_COOKIE:
        raise DecodeError("ISAKMP header", 0, "initiator cookie is zero")
    header = _new(Header)     # `_build`, written out: every message's header comes through here
    _set(header, "__dict__", {"icookie": icookie, "rcookie": rcookie, "next_payload": next_payload,
                              "exchange": exchange, "flags": flags, "message_id": message_id,
                              "length": length, "version": version})
    return header, data[HEADER_LEN:]


_ZERO_COOKIE = bytes(8)


# --- generic payload header ----------------------------------------------------------------------

def _generic(next_type: int, body: bytes) -> bytes:
    """Generic header (next, reserved 0, length) + body, for payloads, proposals, transforms."""
    length = GENERIC_HEADER_LEN + len(body)
    if length > 0xFFFF:
        raise ConfigError(f"payload of {length} bytes does not fit the 16-bit length field")
    return _GENERIC_PACK(next_type, 0, length) + body


class _KeptBody:
    """A frozen part (SA, proposal, transform) whose body is worked out once and kept as `_wire`
    beside its fields (repr and == unchanged): a decoded one keeps the exact bytes it came from
    (decoding round-trips, so they are its encoding), a built one encodes on first use with
    `_fresh_body`."""
    __slots__ = ()
    _wire = None    #: "not worked out yet", without a lookup; an instance keeps its own in `__dict__`

    def encode_body(self) -> bytes:
        wire = self._wire
        if wire is None:
            wire = self.__dict__["_wire"] = self._fresh_body()
        return wire


def _block(r: Reader, layer: str, what: str, min_len: int) -> tuple[int, Reader]:
    """Read a generic header; return (next type, a Reader over exactly the rest of the block)."""
    pos = r.pos
    at = r.base + pos
    left = len(r.data) - pos
    if left < GENERIC_HEADER_LEN:
        raise DecodeError(layer, at, f"truncated {what} header: need 4 bytes, {left} left")
    nxt, reserved, length = _GENERIC_UNPACK(r.data, pos)
    if length < min_len:
        raise DecodeError(layer, at + 2, f"{what} length {length} is less than {min_len}")
    if length > left:
        raise DecodeError(layer, at + 2, f"{what} length {length} exceeds the {left} bytes left")
    if reserved:
        raise DecodeError(layer, at + 1, f"{what} reserved byte is 0x{reserved:02x}, must be zero")
    end = pos + length
    r.pos = end
    return nxt, Reader(r.data[pos + GENERIC_HEADER_LEN:end], layer, at + GENERIC_HEADER_LEN)


def _reject_block(data: bytes, pos: int, base: int, layer: str, what: str, min_len: int) -> NoReturn:
    """Raise the DecodeError `_block` gives for the bad generic header at data[pos:]: the loops
    that read generic headers inline call this when one does not add up."""
    r = Reader(data, layer, base)
    r.pos = pos
    _block(r, layer, what, min_len)
    raise AssertionError("the generic header was fine")  # pragma: no cover


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
