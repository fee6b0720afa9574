"""SA attributes, transforms and proposals: the nested structure inside an ISAKMP SA payload.

RFC 2408 §3.3 (data attributes, TV and TLV), §3.5 (proposal), §3.6 (transform); the IPsec DOI
attribute numbers are in RFC 2407 §4.5 and RFC 2409 App. A. Proposals and transforms are framed
by the generic payload header, chained with their own type as "next" and 0 on the last one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import ConfigError, DecodeError
from .codec import Reader, Writer
from .isakmp_frame import _block, _check, _Fields, _generic
from .numbers import PayloadType


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
