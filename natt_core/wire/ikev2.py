"""IKEv2 messages: the header, the generic payload header and every payload body (RFC 7296 §3).

Strict: anything that does not parse raises `DecodeError` (and nothing else). Unknown payload
types are kept as `Unknown` with their critical bit, so the peer can answer
UNSUPPORTED_CRITICAL_PAYLOAD (§2.5) instead of the decoder guessing. The SK payload (§3.14) is
decoded here only as its opaque body: opening it needs keys (`natt_core.crypto.ikev2_sk`).

    msg = decode_message(data)          # Message(header, payloads, raw)
    data = encode_message(header, payloads)
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import ClassVar, NoReturn

from ..errors import ConfigError, DecodeError
from .codec import Reader
from .ikev2_layouts import (ATTR_TLV, ATTR_TV, AUTH_BODY, DELETE_BODY, GENERIC, HEADER, ID_BODY, KE_BODY,
                            NOTIFY_BODY, PROPOSAL, SELECTOR, TRANSFORM, TS_BODY)
from .ikev2_numbers import VERSION, HdrFlag, Payload, TsType
from .ikev2_selectors import TrafficSelector
from .isakmp_frame import _INT_CLASSES as _INTS, _build, _check, _Fields
from ..net.records import fast_init_all

HEADER_LEN = HEADER.size        # 28
GENERIC_LEN = GENERIC.size      # 4
_GENERIC_PACK = GENERIC.struct.pack
_GENERIC_UNPACK = GENERIC.struct.unpack_from
_HEADER_PACK = HEADER.struct.pack
_HEADER_UNPACK = HEADER.struct.unpack_from
_ATTR_TV_UNPACK = ATTR_TV.struct.unpack_from
assert not PROPOSAL._zero and not TRANSFORM._zero   # `_substructures` reads them in place unchecked
CRITICAL = 0x80


def _checkb(what: str, value, sizes) -> None:
    if not isinstance(value, bytes) or (sizes is not None and len(value) not in sizes):
        raise ConfigError(f"{what} must be bytes of length {sizes}, got {value!r:.40}")


# --- header ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header(_Fields):
    """The 28-byte IKE header (RFC 7296 §3.1); `length` is filled in by the encoder."""
    spi_i: bytes
    spi_r: bytes
    next_payload: int
    exchange: int
    flags: int = 0
    message_id: int = 0
    length: int = 0
    version: int = VERSION
    _WIDTHS = {"next_payload": 8, "exchange": 8, "flags": 8, "message_id": 32, "length": 32, "version": 8}

    def _validate(self) -> None:
        spi_i, spi_r = self.spi_i, self.spi_r
        if not (spi_i.__class__ is bytes and spi_r.__class__ is bytes and len(spi_i) == len(spi_r) == 8):
            _checkb("SPIi", spi_i, (8,))
            _checkb("SPIr", spi_r, (8,))

    @property
    def is_response(self) -> bool:
        return bool(self.flags & HdrFlag.RESPONSE)

    @property
    def from_initiator(self) -> bool:
        return bool(self.flags & HdrFlag.INITIATOR)

    def encode(self, length: int) -> bytes:
        return HEADER.struct.pack(self.spi_i, self.spi_r, self.next_payload, self.version, self.exchange, self.flags,
                           self.message_id, length)


def decode_header(data: bytes) -> tuple[Header, bytes]:
    """Header and the bytes after it; the Length field must equal the message size.

    Only the major version is checked here (a major version above 2 is the peer's business:
    INVALID_MAJOR_VERSION); the minor version is ignored as §3.1 asks."""
    data = data if data.__class__ is bytes else bytes(data)
    size = len(data)
    if size < HEADER_LEN:
        HEADER.read(Reader(data, "IKEv2 header"))   # raises: names the truncated field
    spi_i, spi_r, nxt, version, exchange, flags, mid, length = _HEADER_UNPACK(data)
    if version >> 4 != 2:
        raise DecodeError("IKEv2 header", 17, f"version 0x{version:02x} is not IKEv2 (major 2)")
    if length != size:
        raise DecodeError("IKEv2 header", 24, f"Length field says {length} bytes, message has {size}")
    if spi_i == bytes(8):
        raise DecodeError("IKEv2 header", 0, "initiator SPI is zero")
    # built without __post_init__: the struct widths already bound every field it would check
    return _build(Header, {"spi_i": spi_i, "spi_r": spi_r, "next_payload": nxt, "exchange": exchange,
                           "flags": flags, "message_id": mid, "length": length, "version": version}), \
        data[HEADER_LEN:]


# --- payload bodies ----------------------------------------------------------------------------

class Body:
    """A payload body: `payload_type`, `encode_body()`, `decode_body(reader)`."""
    payload_type: ClassVar[int]

    def encode_body(self) -> bytes:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True)
class Attribute(_Fields):
    """A transform attribute: an int value is TV (AF=1, 2 bytes), bytes are TLV (§3.3.5)."""
    type: int
    value: int | bytes
    _WIDTHS = {"type": 15}

    def _validate(self) -> None:
        value = self.value
        if value.__class__ is int and 0 <= value <= 0xFFFF:
            return
        if isinstance(self.value, int):
            _check("Attribute value", self.value, 16)
        else:
            _checkb("Attribute value", self.value, None)
            _check("Attribute length", len(self.value), 16)

    def encode(self) -> bytes:
        if isinstance(self.value, int):
            return ATTR_TV.struct.pack(0x8000 | self.type, self.value)
        return ATTR_TLV.struct.pack(self.type, len(self.value)) + self.value

    @classmethod
    def decode(cls, r: Reader) -> "Attribute":
        if r.pos < len(r.data) and r.data[r.pos] & 0x80:
            word, value = ATTR_TV.read(r)
            return _build(cls, {"type": word & 0x7FFF, "value": value})   # widths bound by the struct
        word, _length, value = ATTR_TLV.read_all(r)
        return _build(cls, {"type": word, "value": value})


@dataclass(frozen=True)
class Transform(_Fields):
    type: int
    id: int
    attributes: tuple[Attribute, ...] = ()
    _WIDTHS = {"type": 8, "id": 16}

    @property
    def key_length(self) -> int | None:
        for a in self.attributes:
            if a.type == 14 and isinstance(a.value, int):
                return a.value
        return None

    def encode(self, last: bool) -> bytes:
        attrs = b"".join([a.encode() for a in self.attributes])
        return TRANSFORM.struct.pack(0 if last else 3, 0, TRANSFORM.size + len(attrs), self.type, 0, self.id) + attrs


@dataclass(frozen=True)
class Proposal(_Fields):
    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]
    _WIDTHS = {"number": 8, "protocol": 8}

    def _validate(self) -> None:
        _checkb("Proposal.spi", self.spi, None)
        if len(self.spi) > 255 or len(self.transforms) > 255:
            _check("SPI size", len(self.spi), 8)
            _check("number of transforms", len(self.transforms), 8)

    def of_type(self, ttype: int) -> tuple[Transform, ...]:
        return tuple([t for t in self.transforms if t.type == ttype])

    def encode(self, last: bool) -> bytes:
        final = len(self.transforms) - 1
        ts = b"".join([t.encode(i == final) for i, t in enumerate(self.transforms)])
        length = PROPOSAL.size + len(self.spi) + len(ts)
        if length > 0xFFFF:
            _check("proposal length", length, 16)
        return PROPOSAL.struct.pack(0 if last else 2, 0, length, self.number, self.protocol, len(self.spi),
                             len(self.transforms)) + self.spi + ts


def _substructures(r: Reader, more: int, what: str, layout, readers: bool = True):
    """Walk proposals (more=2) or transforms (more=3): each starts Last/More, RESERVED, Length,
    then the rest of `layout`'s fixed prefix; yields those values and a reader over the rest
    (or, `readers=False`, where the rest begins and ends in `r.data`)."""
    data, end, fixed = r.data, len(r.data), layout.size
    unpack = layout.struct.unpack_from
    while True:
        start = r.pos
        if end - start >= fixed:      # read in place (no reserved field of these is checked)
            values = unpack(data, start)
        else:
            values = layout.read(r)   # raises: names the truncated field
        flag, length = values[0], values[2]
        if length < fixed:
            raise DecodeError(r.layer, r.base + start, f"{what} length {length} is shorter than its header")
        stop = start + length
        if stop > end:
            r.pos = start + fixed
            r.sub(length - fixed, what=what)   # raises: names the truncation
        r.pos = stop
        if readers:
            yield values, Reader(data[start + fixed:stop], r.layer, r.base + start + fixed)
        else:
            yield values, start + fixed
        if flag == 0:
            return
        if flag != more:
            raise DecodeError(r.layer, r.base + start, f"{what} last/more field is {flag}, must be 0 or {more}")


@dataclass(frozen=True)
class SA(Body):
    payload_type: ClassVar[int] = Payload.SA
    proposals: tuple[Proposal, ...]

    def encode_body(self) -> bytes:
        if not self.proposals:
            raise ConfigError("an SA payload needs at least one proposal")
        final = len(self.proposals) - 1
        return b"".join([p.encode(i == final) for i, p in enumerate(self.proposals)])

    @classmethod
    def decode_body(cls, r: Reader) -> "SA":
        proposals = []
        for (_, _, _, number, protocol, spi_size, count), pr in _substructures(r, 2, "proposal", PROPOSAL):
            spi = pr.bytes(spi_size, "SPI")
            transforms = []
            if count:
                data = pr.data
                # the attributes read in place in the proposal's bytes: a Reader only for a TLV
                for (_, _, length, ttype, _, tid), begin in _substructures(pr, 3, "transform", TRANSFORM, False):
                    attrs = []
                    pos, end = begin, begin - TRANSFORM.size + length
                    while pos < end:
                        if data[pos] & 0x80 and end - pos >= 4:     # TV
                            word, value = _ATTR_TV_UNPACK(data, pos)
                            attrs.append(_build(Attribute, {"type": word & 0x7FFF, "value": value}))
                            pos += 4
                        else:
                            tr = Reader(data[begin:end], pr.layer, pr.base + begin)
                            tr.pos = pos - begin
                            attrs.append(Attribute.decode(tr))
                            pos = begin + tr.pos
                    transforms.append(_build(Transform, {"type": ttype, "id": tid, "attributes": tuple(attrs)}))
            if len(transforms) != count:
                raise DecodeError(pr.layer, pr.offset, f"proposal says {count} transforms, carries {len(transforms)}")
            if pr.pos != len(pr.data):
                pr.expect_end()
            proposals.append(_build(Proposal, {"number": number, "protocol": protocol, "spi": spi,
                                               "transforms": tuple(transforms)}))
        if r.pos != len(r.data):
            r.expect_end()
        return cls(tuple(proposals))


@dataclass(frozen=True)
class KE(Body):
    payload_type: ClassVar[int] = Payload.KE
    group: int
    data: bytes

    def encode_body(self) -> bytes:
        group = self.group
        if group.__class__ is not int and group.__class__ not in _INTS or not 0 <= group <= 0xFFFF:
            _check("KE.group", group, 16)
        return KE_BODY.struct.pack(self.group, b"\x00\x00") + self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "KE":
        group, _reserved, data = KE_BODY.read_all(r)
        return cls(group, data)


@dataclass(frozen=True)
class _Typed(Body):
    """ID and AUTH share `Type(1) | RESERVED(3) | data` (ID_BODY, AUTH_BODY)."""
    _LAYOUT: ClassVar = ID_BODY
    kind: int
    data: bytes

    def encode_body(self) -> bytes:
        kind = self.kind
        if kind.__class__ is not int and kind.__class__ not in _INTS or not 0 <= kind <= 0xFF:
            _check(f"{type(self).__name__} type", kind, 8)
        return self._LAYOUT.struct.pack(self.kind, b"\x00\x00\x00") + self.data

    @classmethod
    def decode_body(cls, r: Reader):
        kind, _reserved, data = cls._LAYOUT.read_all(r)
        return cls(kind, data)


@dataclass(frozen=True)
class IDi(_Typed):
    payload_type: ClassVar[int] = Payload.IDI


@dataclass(frozen=True)
class IDr(_Typed):
    payload_type: ClassVar[int] = Payload.IDR


@dataclass(frozen=True)
class Auth(_Typed):
    payload_type: ClassVar[int] = Payload.AUTH
    _LAYOUT: ClassVar = AUTH_BODY


@dataclass(frozen=True)
class Nonce(Body):
    payload_type: ClassVar[int] = Payload.NONCE
    data: bytes

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "Nonce":
        data = r.rest()
        if not 16 <= len(data) <= 256:
            raise DecodeError(r.layer, r.base, f"nonce of {len(data)} bytes; RFC 7296 §3.9 wants 16..256")
        return cls(data)


@dataclass(frozen=True)
class Notify(Body):
    payload_type: ClassVar[int] = Payload.NOTIFY
    notify_type: int
    data: bytes = b""
    protocol: int = 0
    spi: bytes = b""

    def encode_body(self) -> bytes:
        ntype, protocol, spi = self.notify_type, self.protocol, self.spi
        # a plain int or a known IntEnum in range costs no call; anything else the full checks
        if not ((ntype.__class__ is int or ntype.__class__ in _INTS)
                and (protocol.__class__ is int or protocol.__class__ in _INTS)
                and 0 <= ntype <= 0xFFFF and 0 <= protocol <= 0xFF and len(spi) <= 0xFF):
            _check("Notify.type", ntype, 16)
            _check("Notify.protocol", protocol, 8)
            _check("Notify SPI size", len(spi), 8)
        return NOTIFY_BODY.struct.pack(protocol, len(spi), ntype) + spi + self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "Notify":
        protocol, _spi_size, ntype, spi, data = NOTIFY_BODY.read_all(r)
        return cls(ntype, data, protocol, spi)


@dataclass(frozen=True)
class Delete(Body):
    payload_type: ClassVar[int] = Payload.DELETE
    protocol: int
    spis: tuple[bytes, ...] = ()

    def encode_body(self) -> bytes:
        _check("Delete.protocol", self.protocol, 8)
        size = len(self.spis[0]) if self.spis else 0
        if any(len(s) != size for s in self.spis):
            raise ConfigError("every SPI in one Delete payload must have the same size")
        _check("Delete SPI size", size, 8)
        _check("number of SPIs", len(self.spis), 16)
        return DELETE_BODY.struct.pack(self.protocol, size, len(self.spis)) + b"".join(self.spis)

    @classmethod
    def decode_body(cls, r: Reader) -> "Delete":
        protocol, size, count = DELETE_BODY.read(r)
        spis = tuple(r.bytes(size, "SPI") for _ in range(count))
        r.expect_end()
        return cls(protocol, spis)


@dataclass(frozen=True)
class Vendor(Body):
    payload_type: ClassVar[int] = Payload.VENDOR
    data: bytes

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "Vendor":
        return cls(r.rest())


@dataclass(frozen=True)
class _TS(Body):
    selectors: tuple[TrafficSelector, ...]

    def encode_body(self) -> bytes:
        if not 1 <= len(self.selectors) <= 255:
            raise ConfigError("a TS payload carries 1..255 traffic selectors")
        return (TS_BODY.struct.pack(len(self.selectors), b"\x00\x00\x00")
                + b"".join([s.encode() for s in self.selectors]))

    @classmethod
    def decode_body(cls, r: Reader):
        count, _reserved = TS_BODY.read(r)
        out = []
        for _ in range(count):
            start = r.offset
            data = r.data
            if len(data) - r.pos >= 4 and (data[r.pos] != TsType.IPV4_ADDR_RANGE
                                           or data[r.pos + 2:r.pos + 4] != b"\x00\x10"):
                ts_type, length = data[r.pos], int.from_bytes(data[r.pos + 2:r.pos + 4], "big")
                raise DecodeError(r.layer, start, f"traffic selector type {ts_type} length {length}: "
                                                  "only TS_IPV4_ADDR_RANGE (7, 16 bytes) is spoken here")
            _type, proto, _length, sp, ep, sa, ea = SELECTOR.read(r)
            out.append(_build(TrafficSelector, {"start_addr": socket.inet_ntoa(sa), "end_addr": socket.inet_ntoa(ea),
                                                 "ip_proto": proto, "start_port": sp, "end_port": ep}))
        r.expect_end()
        if not out:
            raise DecodeError(r.layer, r.base, "a TS payload with no traffic selector")
        return cls(tuple(out))


@dataclass(frozen=True)
class TSi(_TS):
    payload_type: ClassVar[int] = Payload.TSI


@dataclass(frozen=True)
class TSr(_TS):
    payload_type: ClassVar[int] = Payload.TSR


@dataclass(frozen=True)
class Encrypted(Body):
    """The SK payload as it travels: `first_inner` is the type its generic header names, `data`
    is IV | ciphertext | ICV (split and opened by `natt_core.crypto.ikev2_sk`)."""
    payload_type: ClassVar[int] = Payload.SK
    first_inner: int
    data: bytes

    def encode_body(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class Unknown(Body):
    """A payload type this decoder does not know (or one it does not decode, like CERT)."""
    type: int
    body: bytes
    critical: bool = False

    @property
    def payload_type(self) -> int:  # type: ignore[override]
        return self.type

    def encode_body(self) -> bytes:
        return self.body


BODIES: dict[int, type] = {c.payload_type: c for c in (SA, KE, IDi, IDr, Auth, Nonce, Notify, Delete, Vendor,
                                                       TSi, TSr)}


# --- chains and messages -----------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    header: Header
    payloads: tuple[Body, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)  #: the bytes decoded

    def all(self, cls) -> tuple:
        return tuple([p for p in self.payloads if isinstance(p, cls)])

    def notifies(self, ntype: int) -> tuple[Notify, ...]:
        return tuple([p for p in self.payloads if isinstance(p, Notify) and p.notify_type == ntype])

    @property
    def encrypted(self) -> Encrypted | None:
        return self.payloads[-1] if self.payloads and isinstance(self.payloads[-1], Encrypted) else None


def encode_payloads(payloads, last_next: int = Payload.NONE) -> bytes:
    """The chained payloads; the last one's Next Payload is `last_next` (SK: its first inner type)."""
    parts: list[bytes] = []
    last = len(payloads) - 1
    for i, p in enumerate(payloads):
        if isinstance(p, Encrypted):
            if i != last:
                raise ConfigError("the SK payload must be the last payload")
            nxt = p.first_inner
        else:
            nxt = payloads[i + 1].payload_type if i < last else last_next
        body = p.encode_body()
        length = GENERIC_LEN + len(body)
        if length > 0xFFFF:
            _check("payload length", length, 16)
        flags = CRITICAL if isinstance(p, Unknown) and p.critical else 0
        parts += (_GENERIC_PACK(nxt, flags, length), body)
    return b"".join(parts)


#: the layer a payload body's DecodeErrors name: "IKEv2 SA", "IKEv2 NOTIFY", ...
_BODY_LAYERS = {int(p): f"IKEv2 {p.name}" for p in Payload}


def decode_payloads(first: int, data: bytes, base: int = HEADER_LEN, *, allow_sk: bool = True) -> tuple[Body, ...]:
    """Walk a payload chain; SK must be last and take the rest of the message (§3.14). Each
    generic header is read inline; `_reject_generic` names whatever is wrong with one."""
    data = data if data.__class__ is bytes else bytes(data)
    end = len(data)
    out: list[Body] = []
    pos, nxt = 0, first
    while nxt != Payload.NONE:
        start = pos
        if end - pos < GENERIC_LEN:
            _reject_generic(data, pos, base)
        following, flags, length = _GENERIC_UNPACK(data, pos)
        if length < GENERIC_LEN or length > end - pos:
            _reject_generic(data, pos, base)
        pos += length
        body = data[start + GENERIC_LEN:pos]
        if nxt == Payload.SK:
            if not allow_sk:
                raise DecodeError("IKEv2 payload", base + start, "an SK payload inside an SK payload")
            if pos != end:
                raise DecodeError("IKEv2 payload", base + start,
                                  f"{end - pos} bytes after the SK payload, which must be last")
            out.append(Encrypted(following, body))
            return tuple(out)
        cls = BODIES.get(nxt)
        if cls is None:
            out.append(Unknown(nxt, body, bool(flags & CRITICAL)))
        else:
            r = Reader(body, _BODY_LAYERS[nxt], base + start + GENERIC_LEN)
            out.append(cls.decode_body(r))
            if r.pos != length - GENERIC_LEN:
                r.expect_end()
        nxt = following
    if pos != end:
        raise DecodeError("IKEv2 payload", base + pos, f"{end - pos} trailing bytes")
    return tuple(out)


def _reject_generic(data: bytes, pos: int, base: int) -> NoReturn:
    """Raise the DecodeError for the bad generic payload header at data[pos:]."""
    r = Reader(data, "IKEv2 payload", base)
    r.pos = pos
    _following, _flags, length = GENERIC.read(r)
    if length < GENERIC_LEN:
        raise DecodeError(r.layer, base + pos, f"payload length {length} is shorter than its 4-byte header")
    r.sub(length - GENERIC_LEN, what="payload body")
    raise AssertionError("the generic header was fine")  # pragma: no cover


def encode_message(header: Header, payloads) -> bytes:
    """Header + chain; the header's Next Payload and Length are computed here."""
    chain = encode_payloads(payloads)
    first = payloads[0].payload_type if payloads else Payload.NONE
    return _HEADER_PACK(header.spi_i, header.spi_r, first, header.version, header.exchange, header.flags,
                        header.message_id, HEADER_LEN + len(chain)) + chain


def decode_message(data: bytes) -> Message:
    header, rest = decode_header(data)
    return Message(header, decode_payloads(header.next_payload, rest), bytes(data))


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
