"""SA attributes, transforms and proposals: the nested structure inside an ISAKMP SA payload.

RFC 2408 §3.3 (data attributes, TV and TLV), §3.5 (proposal), §3.6 (transform); the IPsec DOI
attribute numbers are in RFC 2407 §4.5 and RFC 2409 App. A. Proposals and transforms are framed
by the generic payload header, chained with their own type as "next" and 0 on the last one.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import ConfigError, DecodeError
from .codec import Reader
from .isakmp_frame import (_GENERIC_PACK, _GENERIC_UNPACK, GENERIC_HEADER_LEN, _build, _check, _Fields, _generic,
                           _KeptBody, _reject_block)
from .layout import Field, Layout, Part, named, show_hex
from .numbers import (AhTransform, AuthAlgorithm, AuthMethod, EncapsulationMode, EspTransform, HashAlg,
                      IpsecAttr, LifeType, PayloadType, Phase1Attr, Phase1Cipher, ProtocolId, label)
from ..net.records import fast_init_all

#: RFC 2408 §3.3: AF bit set → TV (a 16-bit value follows the type) ...
ATTRIBUTE_TV = Layout("attribute", Part("af_type", 2, "attribute type"), Part("value", 2, "attribute value"))
#: ... AF bit clear → TLV (a length, then that many bytes)
ATTRIBUTE_TLV = Layout("attribute", Part("af_type", 2, "attribute type"), Part("length", 2, "attribute length"),
                       Part("value", "length", "attribute value", show_hex))
_HH = ATTRIBUTE_TV.struct
_HHI = struct.Struct("!HHI")


_VALUE_NAMES = {(Phase1Attr, Phase1Attr.ENCRYPTION): Phase1Cipher, (Phase1Attr, Phase1Attr.HASH): HashAlg,
                (Phase1Attr, Phase1Attr.AUTH_METHOD): AuthMethod, (Phase1Attr, Phase1Attr.LIFE_TYPE): LifeType,
                (IpsecAttr, IpsecAttr.ENCAPSULATION_MODE): EncapsulationMode,
                (IpsecAttr, IpsecAttr.AUTH_ALGORITHM): AuthAlgorithm, (IpsecAttr, IpsecAttr.LIFE_TYPE): LifeType}


def attribute_fields(data: bytes, at: int, layer: str, protocol: int) -> list[Field]:
    """A view of already-decoded attributes, one field each (TV or TLV by the layouts above),
    named by their class: Oakley's in phase 1 (RFC 2409 App. A), the IPsec DOI's in phase 2."""
    classes = Phase1Attr if protocol == ProtocolId.ISAKMP else IpsecAttr
    out, pos = [], 0
    while pos < len(data):
        af_type, word = _HH.unpack_from(data, pos)
        kind = af_type & 0x7FFF
        name = label(classes, kind).replace("_", " ").lower()
        if af_type & 0x8000:
            size, text = ATTRIBUTE_TV.size, str(word)
            names = _VALUE_NAMES.get((classes, kind))
            if names is not None:
                text += f" ({label(names, word)})"
        else:
            size = ATTRIBUTE_TLV.size + word
            value = data[pos + ATTRIBUTE_TLV.size:pos + size]
            text = str(int.from_bytes(value, "big")) if word <= 4 else f"0x{value.hex()}"
        out.append(Field(name, at + pos, size, text, layer))
        pos += size
    return out


def _transform_id(value: int, row: dict) -> str:
    """Transform IDs are KEY_IKE in phase 1 and the ESP/AH ID tables in phase 2 (RFC 2407 §4.4)."""
    ids = {ProtocolId.ESP: EspTransform, ProtocolId.AH: AhTransform}.get(row.get("protocol"))
    return f"{value} ({label(ids, value)})" if ids else f"{value} (KEY_IKE)"


#: RFC 2408 §3.6, after the generic header
TRANSFORM = Layout(
    "Transform",
    Part("number", 1, "transform #"),
    Part("transform_id", 1, "transform ID", _transform_id),
    Part("reserved", 2, "reserved", zero=True),
    Part("attributes", None, "SA attributes", nested=True),
)

#: RFC 2408 §3.5, after the generic header
PROPOSAL = Layout(
    "Proposal",
    Part("number", 1, "proposal #"),
    Part("protocol_id", 1, "protocol ID", named(ProtocolId)),
    Part("spi_size", 1, "SPI size"),
    Part("count", 1, "number of transforms"),
    Part("spi", "spi_size", "SPI", show_hex),
    Part("transforms", None, "transforms", nested=True),
)


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
        kind, value, tlv = self.type, self.value, self.tlv
        if not isinstance(kind, int) or not 0 <= kind <= 0x7FFF or kind.__class__ is bool:
            _check("attribute type", kind, 15)
        if tlv is False and isinstance(value, int) and 0 <= value <= 0xFFFF and value.__class__ is not bool:
            return  # the common case, a TV attribute: already normalised
        tlv = bool(tlv)
        if isinstance(value, (bytes, bytearray)):
            if len(value) > 0xFFFF:
                raise ConfigError(f"attribute {self.type}: TLV value longer than 65535 bytes")
            value, tlv = (int.from_bytes(value, "big") if len(value) == 4 else bytes(value)), True
        else:
            if not isinstance(value, int) or not 0 <= value < 1 << 32:
                _check(f"attribute {self.type} value", value, 32)
            tlv = tlv or value > 0xFFFF
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "tlv", tlv)

    def encode(self) -> bytes:
        if not self.tlv:
            return _HH.pack(0x8000 | self.type, self.value)
        if isinstance(self.value, int):
            return _HHI.pack(self.type, 4, self.value)
        return _HH.pack(self.type, len(self.value)) + self.value

    @classmethod
    def decode(cls, r: Reader) -> "Attribute":
        return _decode_attributes(r, 1)[0]


class _TvTable(dict):
    """Decoded TV attributes by their 32-bit word (AF bit | type | value), shared: they are
    immutable, and the same few (life type, group, hash, ...) recur in every transform of every
    offer. Bounded, so hostile input cannot grow it. A word without the AF bit (a TLV header)
    gives None and is not kept."""

    def __missing__(self, word: int) -> Attribute | None:
        if not word & 0x80000000:
            return None
        attr = _build(Attribute, {"type": word >> 16 & 0x7FFF, "value": word & 0xFFFF, "tlv": False})
        if len(self) < _TV_MAX:
            self[word] = attr
        return attr


_TV = _TvTable()
_TV_LOOKUP = _TV.__getitem__     #: `_TV[word]` as a function (dict's own, `__missing__` included)
_TV_MAX = 4096
#: a run of TV attributes as big-endian words: ATTRIBUTE_TV's two 16-bit fields read as one
_TV_WORDS = "!%dI"
assert ATTRIBUTE_TV.struct.format in ("!HH", ">HH") and ATTRIBUTE_TV.size == 4


class _WordsTable(dict):
    """`unpack_from` of a compiled struct reading that many TV words (`_TV_WORDS`), by count:
    compiled once per count, not parsed from a format string per transform. Bounded."""

    def __missing__(self, count: int):
        unpack = struct.Struct(_TV_WORDS % count).unpack_from
        if len(self) < 64:
            self[count] = unpack
        return unpack


_TV_UNPACK = _WordsTable()


def _decode_attributes(r: Reader, limit: int = -1) -> tuple[Attribute, ...]:
    """Attributes until the reader ends (or `limit` of them), normalised as `Attribute` is."""
    data, pos, end = r.data, r.pos, len(r.data)
    if limit < 0 and end > pos and not (end - pos) & 3:
        # the usual block, TV attributes only: every 4-byte word read at once, each looked up
        # as a whole (a TLV among them gives None and the block takes the loop below)
        out = list(map(_TV_LOOKUP, _TV_UNPACK[(end - pos) >> 2](data, pos)))
        if all(out):     # no None (an Attribute is always true): `None in` would call Attribute.__eq__ on each
            r.pos = end
            return tuple(out)
    out = []
    while pos < end and limit:
        limit -= 1
        if end - pos < 4:
            r.pos = pos
            short = end - pos >= 2 and not data[pos] & 0x80
            (ATTRIBUTE_TLV if short else ATTRIBUTE_TV).read(r)
        af_type, value = _HH.unpack_from(data, pos)
        if af_type & 0x8000:
            out.append(_TV[af_type << 16 | value])
            pos += 4
            continue
        pos += 4
        if end - pos < value:
            raise DecodeError(r.layer, r.base + pos, f"truncated attribute value: need {value} bytes, "
                                                     f"{end - pos} left")
        raw = data[pos:pos + value]
        pos += value
        out.append(_build(Attribute, {"type": af_type, "tlv": True,
                                      "value": int.from_bytes(raw, "big") if value == 4 else raw}))
    r.pos = pos
    return tuple(out)


@dataclass(frozen=True)
class Transform(_KeptBody, _Fields):
    """A transform inside a proposal (RFC 2408 §3.6)."""
    number: int
    transform_id: int
    attributes: tuple[Attribute, ...] = ()
    _WIDTHS = {"number": 8, "transform_id": 8}

    def _validate(self) -> None:
        if self.attributes.__class__ is not tuple:
            object.__setattr__(self, "attributes", tuple(self.attributes))

    def get(self, attr_type: int, default: object = None) -> object:
        """Value of the first attribute of this type; a TLV of at most 4 bytes comes back as int."""
        for a in self.attributes:
            if a.type == attr_type:
                short = isinstance(a.value, bytes) and len(a.value) <= 4
                return int.from_bytes(a.value, "big") if short else a.value
        return default

    def _fresh_body(self) -> bytes:
        return TRANSFORM.pack(self.number, self.transform_id, 0) + b"".join([a.encode() for a in self.attributes])

    @classmethod
    def decode_body(cls, r: Reader) -> "Transform":
        wire = r.data
        if len(wire) - r.pos >= 4 and not wire[r.pos + 2] and not wire[r.pos + 3]:   # the usual case
            number, transform_id = wire[r.pos], wire[r.pos + 1]
            r.pos += 4
        else:
            number, transform_id, _reserved = TRANSFORM.read(r)   # names what is wrong
        return _build(cls, {"number": number, "transform_id": transform_id,
                            "attributes": _decode_attributes(r), "_wire": wire})


@dataclass(frozen=True)
class Proposal(_KeptBody, _Fields):
    """A proposal (RFC 2408 §3.5); proposals sharing a number in one SA mean AND (AH + ESP)."""
    number: int
    protocol_id: int
    spi: bytes
    transforms: tuple[Transform, ...]
    _WIDTHS = {"number": 8, "protocol_id": 8}

    def _validate(self) -> None:
        if self.transforms.__class__ is not tuple:
            object.__setattr__(self, "transforms", tuple(self.transforms))
        if len(self.spi) > 255 or not 1 <= len(self.transforms) <= 255:
            raise ConfigError("a proposal needs an SPI of at most 255 bytes and 1..255 transforms")

    def _fresh_body(self) -> bytes:
        return _proposal_body(self.number, self.protocol_id, self.spi, len(self.transforms),
                              _encode_list(_TRANSFORM_TYPE, self.transforms))

    @classmethod
    def decode_body(cls, r: Reader) -> "Proposal":
        start, wire = r.offset, r.data
        number, protocol_id, _spi_size, count, spi = PROPOSAL.read_all(r)
        transforms = _decode_list(r, _TRANSFORM_TYPE, "transform", "proposal",
                                  Transform.decode_body, _transform_from_body)
        if count != len(transforms):
            raise r.fail(f"transform count {count} but {len(transforms)} transforms", at=start + 3)
        return _build(cls, {"number": number, "protocol_id": protocol_id, "spi": spi,
                            "transforms": transforms, "_wire": wire})


def _proposal_body(number: int, protocol_id: int, spi: bytes, count: int, transforms: bytes) -> bytes:
    """A proposal's body: PROPOSAL's fixed part, the SPI, then its `count` transforms already chained."""
    return PROPOSAL.pack(number, protocol_id, len(spi), count) + spi + transforms


def transform_chain(transforms: Sequence[Transform]) -> bytes:
    """The transforms of one proposal as its body carries them after the SPI."""
    return _encode_list(_TRANSFORM_TYPE, transforms)


def built_proposal(number: int, protocol_id: int, spi: bytes, transforms: tuple[Transform, ...],
                   chain: bytes) -> Proposal:
    """A proposal the engine builds from parts it checked (a number and protocol it chose or read,
    a 4-byte SPI, transforms it keeps), whose transforms are chained already (`transform_chain`):
    built as the decoders build theirs, its body packed now, not worked out again level by level."""
    return _build(Proposal, {"number": number, "protocol_id": protocol_id, "spi": spi, "transforms": transforms,
                             "_wire": _proposal_body(number, protocol_id, spi, len(transforms), chain)})


def _encode_list(own_type: int, items: Sequence[Transform | Proposal]) -> bytes:
    """Transforms in a proposal / proposals in an SA: next byte = own type, 0 (NONE) on the last.
    Walked from the last item back, as `encode_payloads` walks a payload chain: each generic header
    is packed as its body is read (no lists of bodies and next types to join again)."""
    parts: list[bytes] = []
    nxt = 0
    for item in reversed(items):
        body = item.encode_body()
        length = GENERIC_HEADER_LEN + len(body)
        if length > 0xFFFF:
            _generic(0, body)   # raises the ConfigError naming the length
        parts += (body, _GENERIC_PACK(nxt, 0, length))
        nxt = own_type
    return b"".join(reversed(parts))


def _transform_from_body(body: bytes) -> Transform | None:
    """A transform whose body is the usual one (TRANSFORM's fixed part with a zero reserved field,
    then TV attributes only), decoded without a Reader; None sends anything else to the strict
    `Transform.decode_body`."""
    n = len(body) - _TRANSFORM_SIZE
    if n <= 0 or n & 3:
        return None
    number, transform_id, reserved = _TRANSFORM_FIXED(body)
    if reserved:
        return None
    # `_TV[word]` for each word (`_TvTable.__missing__` builds a new one), mapped without a frame of its own
    attributes = tuple(map(_TV_LOOKUP, _TV_UNPACK[n >> 2](body, _TRANSFORM_SIZE)))
    if not all(attributes):    # a TLV among them: the strict decoder reads it
        return None
    return _build(Transform, {"number": number, "transform_id": transform_id, "attributes": attributes,
                              "_wire": body})


def _usual_header(body: bytes, pos: int, end: int, kind: int) -> tuple[int, int] | None:
    """(next payload, length) of the generic header at body[pos:] of a payload inside body[:end]
    that chains only payloads of `kind`, or None when anything about it is unusual or wrong."""
    if end - pos < GENERIC_HEADER_LEN:
        return None
    nxt, reserved, length = _GENERIC_UNPACK(body, pos)
    if reserved or length < 8 or length > end - pos or nxt and nxt != kind:
        return None
    return nxt, length


def _usual_chain(body: bytes, pos: int, end: int, kind: int) -> list[tuple[int, int]] | None:
    """(offset, length) of each payload of a chain of `kind` filling body[pos:end] exactly, read by
    `_usual_header`; None when anything about it is unusual or wrong."""
    items = []
    while True:
        header = _usual_header(body, pos, end, kind)
        if header is None:
            return None
        nxt, length = header
        items.append((pos, length))
        pos += length
        if not nxt:
            return items if pos == end else None
        if pos == end:
            return None


def proposals_from_body(body: bytes, pos: int) -> tuple[Proposal, ...] | None:
    """The usual chain of proposals at body[pos:] (what `_decode_list` reads in an SA), each with
    its chain of transforms of the usual kind (`_transform_from_body`): both levels of generic
    headers read by `_usual_chain`, PROPOSAL's fixed part by the layouts' own structs, without a
    Reader; None as soon as anything is unusual or wrong, and the strict decoders then read the
    block and name what."""
    chain = _usual_chain(body, pos, len(body), _PROPOSAL_TYPE)
    if chain is None:
        return None
    proposals = []
    for pos, length in chain:
        stop = pos + length     # the proposal's end; its generic header and fixed part take 8 bytes
        number, protocol_id, spi_size, count = _PROPOSAL_FIXED(body, pos + GENERIC_HEADER_LEN)
        spi_at = pos + GENERIC_HEADER_LEN + _PROPOSAL_SIZE
        # its transforms: the same chain one level down (an SPI too long leaves none)
        items = _usual_chain(body, spi_at + spi_size, stop, _TRANSFORM_TYPE)
        if items is None or len(items) != count:
            return None
        transforms = []
        for at, t_length in items:
            transform = _transform_from_body(body[at + GENERIC_HEADER_LEN:at + t_length])
            if transform is None:
                return None
            transforms.append(transform)
        proposals.append(_build(Proposal, {"number": number, "protocol_id": protocol_id,
                                           "spi": body[spi_at:spi_at + spi_size], "transforms": tuple(transforms),
                                           "_wire": body[pos + GENERIC_HEADER_LEN:stop]}))
    return tuple(proposals)


#: the fixed parts of TRANSFORM and PROPOSAL, read with the layouts' own structs
_TRANSFORM_FIXED, _TRANSFORM_SIZE = TRANSFORM.struct.unpack_from, TRANSFORM.size
_PROPOSAL_FIXED, _PROPOSAL_SIZE = PROPOSAL.struct.unpack_from, PROPOSAL.size
assert TRANSFORM.names[:3] == ("number", "transform_id", "reserved") and TRANSFORM._zero == (2,)
assert PROPOSAL.names[:4] == ("number", "protocol_id", "spi_size", "count") and not PROPOSAL._zero


#: the types that chain transforms and proposals, named once (a member read off its Enum class is
#: a slow attribute hook in Python 3.11)
_TRANSFORM_TYPE, _PROPOSAL_TYPE = PayloadType.TRANSFORM, PayloadType.PROPOSAL

#: the layer each list's errors name, written once
_LIST_LAYERS = {"proposal": "ISAKMP proposal", "transform": "ISAKMP transform"}


def _decode_list(r: Reader, own_type: int, what: str, parent: str, decode: Callable,
                 fast: Callable | None = None) -> tuple:
    """The inverse of `_encode_list`; the chain must fill its parent exactly. Each item's generic
    header is read inline; `_reject_block` names whatever is wrong with one. `fast(body)`, when
    given, decodes the usual item without a Reader, or says None and `decode` reads it."""
    layer = _LIST_LAYERS.get(what) or f"ISAKMP {what}"
    data, pos, end, base = r.data, r.pos, len(r.data), r.base
    if pos == end:
        raise r.fail(f"{parent} has no {what}")
    items = []
    while True:
        start = pos
        if end - pos < GENERIC_HEADER_LEN:
            _reject_block(data, pos, base, layer, what, 8)
        nxt, reserved, length = _GENERIC_UNPACK(data, pos)
        if reserved or length < 8 or length > end - pos:
            _reject_block(data, pos, base, layer, what, 8)
        if nxt and nxt != own_type:    # not NONE (0), not another of its own type
            raise DecodeError(layer, base + start, f"{what} next payload {nxt}, expected {own_type} or 0")
        pos += length
        body = data[start + GENERIC_HEADER_LEN:pos]
        item = fast(body) if fast is not None else None
        items.append(item if item is not None else decode(Reader(body, layer, base + start + GENERIC_HEADER_LEN)))
        if not nxt:
            break
        if pos == end:
            raise DecodeError(layer, base + start, f"says another {what} follows but the {parent} ends")
    r.pos = pos
    if pos != end:
        raise r.fail(f"{end - pos} bytes after the last {what}")
    return tuple(items)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
