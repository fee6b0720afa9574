"""ISAKMP messages on the wire: header, payload chain, SA/proposal/transform, NAT-D, NAT-OA.

RFC 2408 §3 (header §3.1, generic payload header §3.2, attributes §3.3, SA/proposal/transform
§3.4-§3.6, KE §3.7, ID §3.8, HASH §3.11, Nonce §3.13, Notification §3.14, Delete §3.15,
Vendor ID §3.16), RFC 2407 §4.6 (IPsec DOI layouts), RFC 3947 §3.2 (NAT-D), §5.2 (NAT-OA).

Payload dataclasses hold only what a peer chooses; every next-payload byte, length and count is
computed in one place, `encode_payloads`. Decoding is strict: a length that does not add up is
a `DecodeError` naming the layer and the absolute offset, so a trace can point at the bad byte.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Callable, Sequence, Union

from ..errors import ConfigError, DecodeError
from .codec import Reader, Writer
from .numbers import Flag, IdType, NotifyType, PayloadType, ProtocolId, label

HEADER_LEN = 28
GENERIC_HEADER_LEN = 4
#: Data length per address ID type (RFC 2407 §4.6.2.1); other ID types carry free-form data.
ID_ADDRESS_LEN = {1: 4, 4: 8, 5: 16, 6: 32, 7: 8, 8: 32}
#: NAT-OA carries exactly one IPv4 or IPv6 address (RFC 3947 §5.2).
NAT_OA_ADDRESS_LEN = {IdType.IPV4_ADDR: 4, IdType.IPV6_ADDR: 16}


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


class _Payload(_Fields):
    """Base of the payload classes: `summary()` gives the one-line trace text."""

    def summary(self) -> str:
        return summary(self)


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


# --- SA attributes, transforms, proposals ------------------------------------------------------

@dataclass(frozen=True)
class Attribute:
    """One SA attribute (RFC 2408 §3.3): TV (AF bit set, 16-bit value) or TLV.

    Normalised so each wire form has exactly one Attribute: TV → int, tlv=False; a 4-byte TLV →
    int, tlv=True; any other TLV → bytes, tlv=True. An int above 0xFFFF is always a 4-byte TLV
    (RFC 2409 life durations such as 86400).
    """
    type: int
    value: int | bytes
    tlv: bool = False

    def __post_init__(self) -> None:
        _check("attribute type", self.type, 15)
        value, tlv = self.value, bool(self.tlv)
        if isinstance(value, (bytes, bytearray)):
            if len(value) > 0xFFFF:
                raise ConfigError(f"attribute {self.type}: TLV value longer than 65535 bytes")
            value, tlv = (int.from_bytes(value, "big") if len(value) == 4 else bytes(value)), True
        else:
            _check(f"attribute {self.type} value", value, 32)
            tlv = tlv or value > 0xFFFF
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "tlv", tlv)

    def encode(self) -> bytes:
        if not self.tlv:
            return Writer().u16(0x8000 | self.type).u16(self.value).getvalue()
        data = self.value.to_bytes(4, "big") if isinstance(self.value, int) else self.value
        return Writer().u16(self.type).u16(len(data)).raw(data).getvalue()

    @classmethod
    def decode(cls, r: Reader) -> "Attribute":
        af_type = r.u16("attribute type")
        if af_type & 0x8000:
            return cls(af_type & 0x7FFF, r.u16("attribute value"))
        return cls(af_type, r.bytes(r.u16("attribute length"), "attribute value"), tlv=True)


@dataclass(frozen=True)
class Transform(_Fields):
    """A transform inside a proposal (RFC 2408 §3.6)."""
    number: int
    transform_id: int
    attributes: tuple[Attribute, ...] = ()
    _WIDTHS = {"number": 8, "transform_id": 8}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "attributes", tuple(self.attributes))

    def get(self, attr_type: int, default: object = None) -> object:
        """Value of the first attribute of this type; a TLV of at most 4 bytes comes back as int."""
        for a in self.attributes:
            if a.type == attr_type:
                short = isinstance(a.value, bytes) and len(a.value) <= 4
                return int.from_bytes(a.value, "big") if short else a.value
        return default

    def encode_body(self) -> bytes:
        w = Writer().u8(self.number).u8(self.transform_id).u16(0)
        return w.raw(b"".join(a.encode() for a in self.attributes)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Transform":
        number, transform_id, _reserved = r.u8("transform number"), r.u8("transform ID"), r.u16()
        attrs = []
        while r.remaining():
            attrs.append(Attribute.decode(r))
        return cls(number, transform_id, tuple(attrs))


@dataclass(frozen=True)
class Proposal(_Fields):
    """A proposal (RFC 2408 §3.5); proposals sharing a number in one SA mean AND (AH + ESP)."""
    number: int
    protocol_id: int
    spi: bytes
    transforms: tuple[Transform, ...]
    _WIDTHS = {"number": 8, "protocol_id": 8}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if len(self.spi) > 255 or not 1 <= len(self.transforms) <= 255:
            raise ConfigError("a proposal needs an SPI of at most 255 bytes and 1..255 transforms")

    def encode_body(self) -> bytes:
        w = Writer().u8(self.number).u8(self.protocol_id).u8(len(self.spi))
        w.u8(len(self.transforms)).raw(self.spi)
        return w.raw(_encode_list(PayloadType.TRANSFORM, self.transforms)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Proposal":
        start = r.offset
        number, protocol_id = r.u8("proposal number"), r.u8("protocol ID")
        spi_size, count = r.u8("SPI size"), r.u8("transform count")
        spi = r.bytes(spi_size, "SPI")
        transforms = _decode_list(r, PayloadType.TRANSFORM, "transform", "proposal",
                                  Transform.decode_body)
        if count != len(transforms):
            raise r.fail(f"transform count {count} but {len(transforms)} transforms", at=start + 3)
        return cls(number, protocol_id, spi, transforms)


def _encode_list(own_type: int, items: Sequence[Transform | Proposal]) -> bytes:
    """Transforms in a proposal / proposals in an SA: next byte = own type, 0 on the last."""
    last = len(items) - 1
    return b"".join(_generic(own_type if i < last else PayloadType.NONE, x.encode_body())
                    for i, x in enumerate(items))


def _decode_list(r: Reader, own_type: int, what: str, parent: str, decode: Callable) -> tuple:
    """The inverse of `_encode_list`; the chain must fill its parent exactly."""
    layer = f"ISAKMP {what}"
    if not r.remaining():
        raise r.fail(f"{parent} has no {what}")
    items = []
    while True:
        at = r.offset
        nxt, sub = _block(r, layer, what, 8)
        if nxt not in (PayloadType.NONE, own_type):
            raise DecodeError(layer, at, f"{what} next payload {nxt}, expected {own_type} or 0")
        items.append(decode(sub))
        if nxt == PayloadType.NONE:
            break
        if not r.remaining():
            raise DecodeError(layer, at, f"says another {what} follows but the {parent} ends")
    if r.remaining():
        raise r.fail(f"{r.remaining()} bytes after the last {what}")
    return tuple(items)


# --- payloads ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SA(_Payload):
    """Security Association payload (RFC 2408 §3.4; IPsec DOI situation, RFC 2407 §4.6.1)."""
    proposals: tuple[Proposal, ...]
    doi: int = 1
    situation: int = 1
    payload_type = PayloadType.SA
    _WIDTHS = {"doi": 32, "situation": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "proposals", tuple(self.proposals))
        if not self.proposals:
            raise ConfigError("an SA payload needs at least one proposal")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u32(self.situation)
        return w.raw(_encode_list(PayloadType.PROPOSAL, self.proposals)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "SA":
        doi, situation = r.u32("DOI"), r.u32("situation")
        proposals = _decode_list(r, PayloadType.PROPOSAL, "proposal", "SA", Proposal.decode_body)
        return cls(proposals, doi, situation)


@dataclass(frozen=True)
class _Opaque(_Payload):
    """Base of payloads whose body is one opaque byte string."""
    data: bytes

    def encode_body(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode_body(cls, r: Reader):
        return cls(r.rest())


@dataclass(frozen=True)
class KE(_Opaque):
    """Key Exchange data g^x, left-padded to the group length (RFC 2408 §3.7)."""
    payload_type = PayloadType.KE


@dataclass(frozen=True)
class Hash(_Opaque):
    """HASH_I/HASH_R or a Quick Mode HASH(n) (RFC 2408 §3.11)."""
    payload_type = PayloadType.HASH


@dataclass(frozen=True)
class Nonce(_Opaque):
    """Nonce data (RFC 2408 §3.13)."""
    payload_type = PayloadType.NONCE


@dataclass(frozen=True)
class VendorID(_Opaque):
    """Vendor ID, e.g. MD5("RFC 3947") to announce NAT-T (RFC 2408 §3.16, RFC 3947 §3.1)."""
    payload_type = PayloadType.VENDOR_ID


@dataclass(frozen=True)
class ID(_Payload):
    """Identification in the IPsec DOI layout (RFC 2407 §4.6.2): type, protocol, port, data."""
    id_type: int
    protocol: int
    port: int
    data: bytes
    payload_type = PayloadType.ID
    _WIDTHS = {"id_type": 8, "protocol": 8, "port": 16}

    def __post_init__(self) -> None:
        super().__post_init__()
        need = ID_ADDRESS_LEN.get(self.id_type)
        if need is not None and len(self.data) != need:
            raise ConfigError(f"ID type {label(IdType, self.id_type)} needs {need} bytes of data")

    @classmethod
    def ipv4(cls, ip: str, protocol: int = 0, port: int = 0) -> "ID":
        """ID_IPV4_ADDR for a dotted address."""
        return cls(IdType.IPV4_ADDR, protocol, port, ipaddress.IPv4Address(ip).packed)

    def encode_body(self) -> bytes:
        return Writer().u8(self.id_type).u8(self.protocol).u16(self.port).raw(self.data).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "ID":
        start = r.offset
        id_type, protocol, port, data = r.u8("ID type"), r.u8("protocol"), r.u16("port"), r.rest()
        need = ID_ADDRESS_LEN.get(id_type)
        if need is not None and len(data) != need:
            raise r.fail(f"ID type {label(IdType, id_type)} needs {need} bytes of data, "
                         f"{len(data)} present", at=start)
        return cls(id_type, protocol, port, data)


@dataclass(frozen=True)
class Notification(_Payload):
    """Notification (RFC 2408 §3.14; IPsec DOI, RFC 2407 §4.6.3)."""
    notify_type: int
    protocol_id: int = ProtocolId.ISAKMP
    spi: bytes = b""
    data: bytes = b""
    doi: int = 1
    payload_type = PayloadType.NOTIFICATION
    _WIDTHS = {"notify_type": 16, "protocol_id": 8, "doi": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.spi) > 255:
            raise ConfigError("notification SPI longer than 255 bytes")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u8(self.protocol_id).u8(len(self.spi)).u16(self.notify_type)
        return w.raw(self.spi).raw(self.data).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Notification":
        doi, protocol_id, spi_size = r.u32("DOI"), r.u8("protocol ID"), r.u8("SPI size")
        notify_type = r.u16("notify type")
        spi = r.bytes(spi_size, "SPI")
        return cls(notify_type, protocol_id, spi, r.rest(), doi)


@dataclass(frozen=True)
class Delete(_Payload):
    """Delete (RFC 2408 §3.15): spi_size 16 for an ISAKMP SA (both cookies), 4 for ESP/AH."""
    protocol_id: int
    spis: tuple[bytes, ...]
    spi_size: int = 16
    doi: int = 1
    payload_type = PayloadType.DELETE
    _WIDTHS = {"protocol_id": 8, "spi_size": 8, "doi": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "spis", tuple(self.spis))
        _check("Delete SPI count", len(self.spis), 16)
        if any(len(s) != self.spi_size for s in self.spis):
            raise ConfigError(f"every SPI in this Delete must be {self.spi_size} bytes")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u8(self.protocol_id).u8(self.spi_size).u16(len(self.spis))
        return w.raw(b"".join(self.spis)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Delete":
        doi, protocol_id, spi_size = r.u32("DOI"), r.u8("protocol ID"), r.u8("SPI size")
        count = r.u16("SPI count")
        if r.remaining() != count * spi_size:
            raise r.fail(f"{count} SPIs of {spi_size} bytes need {count * spi_size} bytes, "
                         f"{r.remaining()} present")
        return cls(protocol_id, tuple(r.bytes(spi_size) for _ in range(count)), spi_size, doi)


@dataclass(frozen=True)
class NatD(_Payload):
    """NAT-D: HASH(CKY-I | CKY-R | IP | Port) (RFC 3947 §3.2); type 130 in the drafts."""
    hash: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    @property
    def payload_type(self) -> int:
        return PayloadType.NAT_D_DRAFT if self.draft else PayloadType.NAT_D

    def encode_body(self) -> bytes:
        return bytes(self.hash)

    @classmethod
    def decode_body(cls, r: Reader) -> "NatD":
        return cls(r.rest())


@dataclass(frozen=True)
class NatOA(_Payload):
    """NAT-OA: an original address as its sender saw it (RFC 3947 §5.2); type 131 in drafts."""
    id_type: int
    address: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.address) != NAT_OA_ADDRESS_LEN.get(self.id_type):
            raise ConfigError("NAT-OA needs ID type 1 with 4 address bytes or 5 with 16")

    @classmethod
    def from_ip(cls, ip: str, draft: bool = False) -> "NatOA":
        addr = ipaddress.ip_address(ip)
        return cls(IdType.IPV4_ADDR if addr.version == 4 else IdType.IPV6_ADDR, addr.packed, draft)

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_address(self.address))

    @property
    def payload_type(self) -> int:
        return PayloadType.NAT_OA_DRAFT if self.draft else PayloadType.NAT_OA

    def encode_body(self) -> bytes:
        return Writer().u8(self.id_type).raw(bytes(3)).raw(self.address).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "NatOA":
        start = r.offset
        id_type, _reserved, address = r.u8("ID type"), r.bytes(3, "reserved"), r.rest()
        if len(address) != NAT_OA_ADDRESS_LEN.get(id_type):
            raise r.fail(f"ID type {id_type} with {len(address)} address bytes; expected "
                         "1 (IPv4, 4 bytes) or 5 (IPv6, 16 bytes)", at=start)
        return cls(id_type, address)


@dataclass(frozen=True)
class Unknown(_Payload):
    """Any payload type without a class here (CERT, SIG, ...), kept as raw body bytes."""
    type: int
    body: bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("payload type", self.type, 8)
        if self.type == 0 or self.type in _DECODERS:
            raise ConfigError(f"payload type {self.type} has its own class, not Unknown")

    @property
    def payload_type(self) -> int:
        return self.type

    def encode_body(self) -> bytes:
        return bytes(self.body)


Payload = Union[SA, KE, ID, Hash, Nonce, Notification, Delete, VendorID, NatD, NatOA, Unknown]

_DECODERS: dict[int, tuple[str, Callable[[Reader], Payload]]] = {
    PayloadType.SA: ("ISAKMP SA", SA.decode_body),
    PayloadType.KE: ("ISAKMP KE", KE.decode_body),
    PayloadType.ID: ("ISAKMP ID", ID.decode_body),
    PayloadType.HASH: ("ISAKMP HASH", Hash.decode_body),
    PayloadType.NONCE: ("ISAKMP Nonce", Nonce.decode_body),
    PayloadType.NOTIFICATION: ("ISAKMP Notification", Notification.decode_body),
    PayloadType.DELETE: ("ISAKMP Delete", Delete.decode_body),
    PayloadType.VENDOR_ID: ("ISAKMP Vendor ID", VendorID.decode_body),
    PayloadType.NAT_D: ("ISAKMP NAT-D", NatD.decode_body),
    PayloadType.NAT_D_DRAFT: ("ISAKMP NAT-D", lambda r: replace(NatD.decode_body(r), draft=True)),
    PayloadType.NAT_OA: ("ISAKMP NAT-OA", NatOA.decode_body),
    PayloadType.NAT_OA_DRAFT: ("ISAKMP NAT-OA",
                               lambda r: replace(NatOA.decode_body(r), draft=True)),
}


def summary(p: Payload) -> str:
    """One line for a trace row, e.g. 'NAT-D 3f2a1b0c…' or 'N(INITIAL_CONTACT)'."""
    draft = " (draft)" if getattr(p, "draft", False) else ""
    if isinstance(p, SA):
        return f"SA ({len(p.proposals)} proposal(s))"
    if isinstance(p, ID):
        text = (str(ipaddress.ip_address(p.data)) if p.id_type in NAT_OA_ADDRESS_LEN
                else p.data.decode("ascii", "replace"))
        return f"ID {label(IdType, p.id_type)} {text} proto {p.protocol} port {p.port}"
    if isinstance(p, Notification):
        return f"N({label(NotifyType, p.notify_type)})"
    if isinstance(p, Delete):
        return f"D({label(ProtocolId, p.protocol_id)}, {len(p.spis)} SPI(s))"
    if isinstance(p, NatOA):
        return f"NAT-OA{draft} {p.ip}"
    body = p.encode_body()
    name = "NAT-D" if isinstance(p, NatD) else label(PayloadType, p.payload_type)
    return f"{name}{draft} {len(body)} B {body[:4].hex()}{'…' if len(body) > 4 else ''}"


# --- the chain ---------------------------------------------------------------------------------

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


def encode_payloads(payloads: Sequence[Payload]) -> bytes:
    """The payload chain; the only place next-payload bytes and lengths are computed."""
    types = [p.payload_type for p in payloads[1:]] + [PayloadType.NONE]
    return b"".join(_generic(nxt, p.encode_body()) for p, nxt in zip(payloads, types))


def encode_message(header: Header, payloads: Sequence[Payload]) -> bytes:
    """A plaintext message: header (next payload and length filled in) + payload chain."""
    body = encode_payloads(payloads)
    first = payloads[0].payload_type if payloads else PayloadType.NONE
    return encode_header(replace(header, next_payload=first), len(body)) + body


@dataclass(frozen=True)
class PayloadChain:
    """A decoded chain, with each payload's exact received bytes for hashes over them."""
    payloads: tuple[Payload, ...]
    raw: tuple[bytes, ...]  #: each payload's bytes incl. its generic header (QM HASH(1)/(2))
    end: int                #: offset in the body where the chain ended; padding follows

    def first(self, kind: type) -> Payload | None:
        """The first payload of this class, or None."""
        return next((p for p in self.payloads if isinstance(p, kind)), None)

    def all(self, kind: type) -> tuple[Payload, ...]:
        """Every payload of this class, in order (e.g. both NAT-D payloads)."""
        return tuple(p for p in self.payloads if isinstance(p, kind))


def decode_payloads(first_type: int, body: bytes, *, base: int = HEADER_LEN,
                    max_padding: int = 0) -> PayloadChain:
    """Decode a payload chain strictly; up to `max_padding` bytes may follow (CBC padding)."""
    r = Reader(body, "ISAKMP payload", base)
    payloads: list[Payload] = []
    raws: list[bytes] = []
    kind = first_type
    while kind != PayloadType.NONE:
        start = r.pos
        layer, decoder = _DECODERS.get(kind, ("ISAKMP payload", None))
        nxt, sub = _block(r, "ISAKMP payload", f"{label(PayloadType, kind)} payload", 4)
        sub.layer = layer
        if decoder is None:
            payloads.append(Unknown(kind, sub.rest()))
        else:
            payloads.append(decoder(sub))
            sub.expect_end()
        raws.append(r.data[start:r.pos])
        kind = nxt
    if r.remaining() > max_padding:
        raise r.fail(f"{r.remaining()} trailing bytes after the last payload")
    return PayloadChain(tuple(payloads), tuple(raws), r.pos)


def decode_message(data: bytes) -> tuple[Header, PayloadChain]:
    """Decode a plaintext message; an encrypted body must be decrypted, then decode_payloads."""
    header, body = decode_header(data)
    if header.encrypted:
        raise DecodeError("ISAKMP header", 19, "encrypted body: decrypt it, then decode_payloads")
    return header, decode_payloads(header.next_payload, body)
